# Sourced by the scripts that run Windows builds under Wine (native/tests/run-wine.sh,
# examples-cpp/test/build-win.sh): the environment and one prepared prefix with its server.
#   source wine-prefix.sh; prepare_wine_prefix DIR
# Leaves one wineserver for DIR running (-p30: it ends 30 s after its last client); the caller ends it
# with `wineserver -k`. wineboot's first start of a prefix takes seconds here, but has failed once on a
# busy CI machine (the two Wine test suites and Chromium at once): a failed or hung try is reported with
# what wineboot printed and retried from an empty prefix.
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono/Gecko install dialogs

prepare_wine_prefix() {
  export WINEPREFIX="$1"
  local log="$1.wineboot.log" try rc
  for try in 1 2 3; do
    wineserver -k 2>/dev/null || true # a server of this prefix left by an interrupted run or a failed try
    if [ "$try" -gt 1 ]; then rm -rf "$WINEPREFIX"; fi
    mkdir -p "$WINEPREFIX" # the server runs in it
    wineserver -p30
    rc=0
    timeout 180 wineboot -i > "$log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then return 0; fi
    echo "wine: preparing the prefix $WINEPREFIX failed (try $try of 3, exit $rc$([ "$rc" -eq 124 ] && echo ': over 180 s')); wineboot printed:" >&2
    tail -n 15 "$log" >&2
  done
  wineserver -k 2>/dev/null || true
  return 1
}
