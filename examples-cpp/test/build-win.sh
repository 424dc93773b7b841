#!/usr/bin/env bash
# The Windows build of the examples (mingw-w64: collector.dll, collector-host.exe, the Person and points
# programs) and the Wine prefix that runs them (prepared once: Wine's first start is slow). Used by
# test/40.windows.test.ts; .ci/run installs g++-mingw-w64-x86-64, wine and wine64.
set -euo pipefail
cd "$(dirname "$0")/.."
source ../native/tests/wine-prefix.sh
need_wine_tools x86_64-w64-mingw32-g++
cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=../native/cmake/mingw-w64.cmake -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build-win -j 2 > /dev/null
prepare_wine_prefix "$PWD/build-win/wineprefix" # one server for the test file (afterAll: wineserver -k)
