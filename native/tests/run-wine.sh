#!/usr/bin/env bash
# Cross-builds libmmbus and its portable tests for 64-bit Windows (mingw-w64, the same source list as
# Linux: sources.json) and runs them under Wine with ctest. Tests that fork or use POSIX-only
# behaviour stay Linux-only (MMBUS_POSIX_ONLY_TESTS in tests/CMakeLists.txt).
#   tests/run-wine.sh       (npm test runs it; .ci/run installs g++-mingw-w64-x86-64 and wine64)
# The Wine prefix lives in build-win/ and is prepared once, before any test runs (its first start
# takes tens of seconds); one wineserver serves the whole run and is ended with it.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/wine-prefix.sh
need_wine_tools x86_64-w64-mingw32-gcc
dir=build-win
cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$dir" -j 2 > /dev/null
# Crash tests start a Wine process per kill: fewer kills than on Linux keep the run short.
export MMBUS_CRASH_ITERATIONS=${MMBUS_CRASH_ITERATIONS:-50}
trap 'wineserver -k 2>/dev/null || true' EXIT
prepare_wine_prefix "$PWD/$dir/wineprefix" || { echo "wine tests: the Wine prefix could not be prepared" >&2; exit 1; }
echo "== ctest of the Windows build under $(wine --version)"
ctest --test-dir "$dir" --output-on-failure --timeout 300
