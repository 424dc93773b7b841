#!/bin/bash
# t_wine_prefix: prepare_wine_prefix (wine-prefix.sh) against fake wine commands — a wineboot that fails
# twice is retried from an empty prefix and the third try succeeds; one that always fails ends after
# three tries with status 1, each reported with what it printed; the server is ended after the last.
set -u
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
# wineboot fails while $tmp/failures holds a count > 0; it leaves a file in the prefix to see it emptied
cat > "$tmp/bin/wineboot" <<'FAKE'
#!/bin/sh
n=$(cat "$FAKE_DIR/failures"); echo "try of wineboot, prefix held: $(ls "$WINEPREFIX" | tr '\n' ' ')"
touch "$WINEPREFIX/left-by-wineboot"
if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$FAKE_DIR/failures"; echo "fake wineboot failure $n" >&2; exit 3; fi
FAKE
printf '#!/bin/sh\necho "wineserver $*" >> "$FAKE_DIR/server.log"\n' > "$tmp/bin/wineserver"
chmod +x "$tmp/bin/wineboot" "$tmp/bin/wineserver"
export PATH="$tmp/bin:$PATH" FAKE_DIR="$tmp"
source "$(dirname "$0")/wine-prefix.sh"
status=0
fail() { echo "t_wine_prefix: $*"; status=1; }

echo 2 > "$tmp/failures"
prepare_wine_prefix "$tmp/p1" 2> "$tmp/err1" || fail "two failures then success: returned $?, want 0"
[ "$WINEPREFIX" = "$tmp/p1" ] || fail "WINEPREFIX is '$WINEPREFIX', want $tmp/p1"
[ "$(grep -c 'failed (try [12] of 3, exit 3)' "$tmp/err1")" = 2 ] || fail "want two reported failures, got: $(cat "$tmp/err1")"
grep -q 'fake wineboot failure 1' "$tmp/err1" || fail "the report does not show what wineboot printed: $(cat "$tmp/err1")"
grep -q 'prefix held: $' "$tmp/p1.wineboot.log" || fail "the last try did not start from an empty prefix: $(cat "$tmp/p1.wineboot.log")"
[ "$(grep -c -- '-p30' "$tmp/server.log")" = 3 ] || fail "want a server started for each of 3 tries: $(cat "$tmp/server.log")"
[ "$(tail -n 1 "$tmp/server.log")" = "wineserver -p30" ] || fail "the server of the successful try was ended"

: > "$tmp/server.log"
echo 99 > "$tmp/failures"
prepare_wine_prefix "$tmp/p2" 2> "$tmp/err2"; rc=$?
[ "$rc" = 1 ] || fail "always failing: returned $rc, want 1"
[ "$(grep -c 'failed (try [123] of 3, exit 3)' "$tmp/err2")" = 3 ] || fail "want three reported failures, got: $(cat "$tmp/err2")"
[ "$(tail -n 1 "$tmp/server.log")" = "wineserver -k" ] || fail "the server was left running after the last failed try"
[ $status = 0 ] && echo "t_wine_prefix: passed"
exit $status
