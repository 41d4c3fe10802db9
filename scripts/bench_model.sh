# shellcheck shell=bash disable=SC2034  # sets variables for the script that sources it
# Sourced by scripts/bench.sh and scripts/bench_generate.sh (not run on its own): the build and
# the benchmark checkpoint they share.
#
#   bench_model_prepare NAME SHAPE
#     NAME prefixes the messages ("bench.sh"); SHAPE is 1b (TinyLlama-1.1B shapes, F16,
#     2.2 GB) or tiny (the 0.6 M-parameter example, F16). Sets:
#       base        ${SUTRA_BENCH_DIR:-/tmp/sutra-bench}
#       model       $base/llama-1b-f16 or $base/tiny-f16
#       build       ${SUTRA_BUILD_DIR:-build}; build_type its CMAKE_BUILD_TYPE
#       sutra       $build/bin/sutra
#     Builds sutra in Release when there is no build yet, else just `sutra` and
#     `sutra-make-example` (a no-op when up to date; the build's output goes to stderr), warns
#     when the build is not Release, generates the checkpoint deterministically (seed 1) with
#     `sutra-make-example` only when it is missing (about 60 s for the 1B shape), and reads it
#     once so that it is in the page cache.
# Call from the repository root.

bench_model_prepare() {
  local name=$1 shape=$2
  base=${SUTRA_BENCH_DIR:-/tmp/sutra-bench}
  if [ "$shape" = 1b ]; then model=$base/llama-1b-f16; else model=$base/tiny-f16; fi

  # Build: the whole Release configuration when there is none yet, else just the two programs
  # used here (a no-op when up to date). The build's own output stays off the report.
  build=${SUTRA_BUILD_DIR:-build}
  if [ ! -x "$build/bin/sutra" ] || [ ! -x "$build/bin/sutra-make-example" ]; then
    bash scripts/build.sh "$build" >&2
  else
    cmake --build "$build" --target sutra sutra-make-example >&2
  fi
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")
  [ "$build_type" = Release ] ||
    echo "$name: warning: $build is a '$build_type' build, not Release; timings will mislead" >&2
  sutra=$build/bin/sutra

  if [ ! -f "$model/model.safetensors" ] || [ ! -f "$model/config.json" ]; then
    echo "$name: generating $model (shape $shape, F16, seed 1)" >&2
    "$build/bin/sutra-make-example" "$model" --shape "$shape" --dtype f16 --seed 1 --force >&2
  fi
  echo "$name: reading $model/model.safetensors into the page cache" >&2
  cat "$model/model.safetensors" >/dev/null
}
