#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz with clang, ASan and UBSan into build-fuzz/, then
# runs each one for SECONDS (default 600) seconds, one after another, and prints its
# executions and crashes. Not run by CI: CI only replays the checked-in corpora (the
# fuzz_replay_* ctest tests of the normal build).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]       targets: safetensors_header index qbin
#        scripts/fuzz.sh --merge [TARGET...]          minimize the work corpus into test/fuzz/corpus
#
# Each target grows build-fuzz/corpus/TARGET (seeded from test/fuzz/corpus/TARGET, kept
# between runs, so a second run goes on where the first stopped). Crash, leak, timeout and
# out-of-memory inputs land in build-fuzz/artifacts/TARGET/. --merge minimizes the work corpus
# with -merge=1 into a fresh folder and replaces test/fuzz/corpus/TARGET with it, keeping the
# crash-* regression files there.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(safetensors_header index qbin tokenizer_json imatrix gguf)
merge=0
if [ "${1:-}" = "--merge" ]; then
  merge=1
  shift
fi
seconds=600
if [ "$merge" = 0 ] && [ $# -gt 0 ]; then
  seconds=$1
  shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

max_len() {
  case $1 in
    safetensors_header) echo 8192 ;;
    index) echo 8192 ;;
    qbin) echo 32768 ;;
    tokenizer_json) echo 16384 ;;
    imatrix) echo 8192 ;;
    gguf) echo 16384 ;;
    *) echo "unknown fuzz target: $1 (known: ${all_targets[*]})" >&2; exit 2 ;;
  esac
}
for t in "${targets[@]}"; do max_len "$t" >/dev/null; done

build="build-fuzz"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" -DSUTRA_SANITIZE=ON -DSUTRA_FUZZ=ON \
    -DSUTRA_BUILD_TESTS=ON -DSUTRA_SKIP_SLOW_TESTS=ON >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

if [ "$merge" = 1 ]; then
  for t in "${targets[@]}"; do
    src=test/fuzz/corpus/$t
    fresh=$build/merged/$t
    found=$build/found/$t
    rm -rf "$fresh" "$found"
    mkdir -p "$fresh" "$found" "$build/corpus/$t"
    # Hand-written seeds (named) and crash-* regressions are kept as they are; inputs found by
    # the fuzzer (named by their SHA-1) are merged again with the work corpus. -use_counters=0
    # keeps one input per new edge rather than per new hit count, which keeps the corpus small.
    for f in "$src"/*; do
      name=$(basename "$f")
      if [[ $name == crash-* ]]; then
        continue
      elif [[ $name =~ ^[0-9a-f]{40}$ ]]; then
        cp "$f" "$found"/
      else
        cp "$f" "$fresh"/
      fi
    done
    "$build/bin/fuzz_$t" -set_cover_merge=1 -use_counters=0 -max_len="$(max_len "$t")" -rss_limit_mb=2048 \
      -timeout=10 "$fresh" "$found" "$build/corpus/$t" 2>"$build/merge-$t.log" ||
      { tail -n 20 "$build/merge-$t.log"; exit 1; }
    find "$src" -maxdepth 1 -type f ! -name 'crash-*' -delete
    cp "$fresh"/* "$src"/
    echo "$t: $(find "$src" -maxdepth 1 -type f ! -name 'crash-*' | wc -l) inputs," \
      "$(find "$src" -maxdepth 1 -type f -name 'crash-*' | wc -l) crash regressions," \
      "$(du -sb "$src" | cut -f1) bytes"
  done
  exit 0
fi

status=0
for t in "${targets[@]}"; do
  work=$build/corpus/$t
  artifacts=$build/artifacts/$t
  log=$build/fuzz-$t.log
  mkdir -p "$work" "$artifacts"
  echo "== fuzz_$t: ${seconds} s (log: $log)"
  rc=0
  "$build/bin/fuzz_$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$work" test/fuzz/corpus/"$t" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  crashes=$(find "$artifacts" -type f | wc -l)
  echo "fuzz_$t: ${execs:-?} executions, ${rate:-?} exec/s, corpus $(find "$work" -type f | wc -l) inputs," \
    "$crashes artifact(s) in $artifacts, exit $rc"
  if [ "$rc" != 0 ]; then
    grep -m 3 -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" || true
    status=1
  fi
done
exit $status
