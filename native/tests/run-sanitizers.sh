#!/usr/bin/env bash
# Runs the whole ctest suite under AddressSanitizer+UndefinedBehaviorSanitizer and under
# ThreadSanitizer. Multi-process tests use fewer records there (sanitizers are 3-20x slower).
set -euo pipefail
cd "$(dirname "$0")/.."
export MMBUS_TEST_RECORDS=${MMBUS_TEST_RECORDS:-500000}
export MMBUS_CRASH_ITERATIONS=${MMBUS_CRASH_ITERATIONS:-30}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1
status=0
for kind in asan tsan; do
  case $kind in
    asan) flags="address,undefined" ;;
    tsan) flags="thread" ;;

  esac
  dir=build-$kind
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DMMBUS_SANITIZE="$flags" > /dev/null
  cmake --build "$dir" -j 2 > /dev/null
  echo "== ctest under $flags sanitizer(s)"
  ctest --test-dir "$dir" --output-on-failure --timeout 600 || status=1
done
exit $status
