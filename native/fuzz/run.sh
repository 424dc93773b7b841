#!/usr/bin/env bash
# Builds the libFuzzer target with clang (ASan + UBSan) and runs it on a corpus seeded with valid files.
#   fuzz/run.sh            a short bounded run (npm test): MMBUS_FUZZ_SECONDS, default 30
#   MMBUS_FUZZ_SECONDS=3600 fuzz/run.sh   a longer run; new inputs accumulate in build-fuzz/corpus
# A crash, a leak, a sanitizer report or a hang past -timeout fails the run and leaves the input in
# build-fuzz/ (crash-*, timeout-*): reproduce with build-fuzz/fuzz/fuzz_channel FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang >/dev/null; then
  echo "fuzz: clang is not installed (apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi
dir=build-fuzz
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
  -DMMBUS_FUZZ=ON -DMMBUS_SANITIZE="address,undefined" -DMMBUS_BUILD_TESTS=OFF -DMMBUS_INSTALL=OFF > /dev/null
cmake --build "$dir" -j 2 --target fuzz_channel fuzz_seeds > /dev/null
rm -rf "$dir/seeds" && mkdir -p "$dir/seeds" "$dir/corpus"
"$dir/fuzz/fuzz_seeds" "$dir/seeds"
seconds=${MMBUS_FUZZ_SECONDS:-30}
echo "== libFuzzer over channel files for ${seconds} s (seeds: $(ls "$dir/seeds" | wc -l) valid files)"
cd "$dir"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
./fuzz/fuzz_channel -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 corpus seeds 2>&1 | grep -E "^#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|ERROR|SUMMARY|crash-|timeout-" || true
test "${PIPESTATUS[0]}" -eq 0
