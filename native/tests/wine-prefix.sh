# Sourced by the scripts that run Windows builds under Wine (native/tests/run-wine.sh,
# examples-cpp/test/build-win.sh): the environment and one prepared prefix with its server.
#   source wine-prefix.sh; need_wine_tools COMPILER; prepare_wine_prefix DIR
# prepare_wine_prefix leaves one wineserver for DIR running (-p30: it ends 30 s after its last client);
# the caller ends it with `wineserver -k`. wineboot prepares a new prefix in seconds, but failed once in
# CI for a reason its discarded output did not tell: a failed or hung try is now reported with what
# wineboot printed and retried from an empty prefix (tests/t_wine_prefix.sh).
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono/Gecko install dialogs

need_wine_tools() {
  local tool
  for tool in "$@" wine wineserver wineboot; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install g++-mingw-w64-x86-64 wine wine64)" >&2; return 1; }
  done
}

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
