#!/usr/bin/env bash
# Benchmarks sutra end to end on a 1B-parameter Llama-shaped checkpoint (TinyLlama-1.1B shapes,
# F16, 2.2 GB), with 1 and then 2 threads, and micro-benchmarks the SIMD kernels.
#
# Usage: scripts/bench.sh [--quick]
#   --quick   use the tiny example (0.6 M parameters) instead: a smoke run of a few seconds
# Environment:
#   SUTRA_BENCH_DIR   where the checkpoint and the report go (default /tmp/sutra-bench); the
#                     checkpoint is generated deterministically (seed 1) only when missing
#                     (about 60 s for the 1B shape) and is never committed
#   RUNS              measured runs per thread count (default 5), after 1 warm-up run
#   SUTRA_BUILD_DIR   build folder (default build)
#
# Builds sutra in Release if needed, reads the checkpoint once so it is in the page cache,
# runs `sutra --threads N bench MODEL --preset aggressive --bits 4 --group-size 128 --methods rtn`
# for N = 1 and 2, then `sutra bench --kernels`, and prints the 1 -> 2 thread speed-up.
# Everything is printed on stdout and written to DIR/bench-report.md, DIR being
# $SUTRA_BENCH_DIR/report-1b (or report-tiny with --quick), also the folder the quantized
# outputs are written to (and removed from) during the runs.
set -euo pipefail
cd "$(dirname "$0")/.."

shape=1b
for arg in "$@"; do
  case "$arg" in
    --quick) shape=tiny ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "bench.sh: error: unknown argument '$arg' (usage: scripts/bench.sh [--quick])" >&2
      exit 2
      ;;
  esac
done
runs=${RUNS:-5}
case "$runs" in
  '' | *[!0-9]* | 0)
    echo "bench.sh: error: RUNS must be a positive integer, not '$runs'" >&2
    exit 2
    ;;
esac

# The build, the checkpoint ($model) and its page-cache read (scripts/bench_model.sh).
# shellcheck source=scripts/bench_model.sh
. scripts/bench_model.sh
bench_model_prepare bench.sh "$shape"
dir=$base/report-$shape
report=$dir/bench-report.md
mkdir -p "$dir"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

: >"$report"
out() { tee -a "$report"; }  # stdout and the report

bench_threads() {  # N: one end-to-end bench with N threads, Markdown kept in $tmp/tN.md
  local n=$1
  echo "bench.sh: sutra --threads $n bench ($runs runs after 1 warm-up)" >&2
  "$sutra" --threads "$n" bench "$model" --preset aggressive --bits 4 --group-size 128 \
    --methods rtn --runs "$runs" --warmup 1 --markdown --out-dir "$dir" >"$tmp/t$n.md"
  {
    echo
    echo "## $n thread$([ "$n" = 1 ] || echo s)"
    echo
    cat "$tmp/t$n.md"
  } | out
}

{
  echo "# sutra bench ($shape)"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(
    [ -n "$(GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' (modified)')"
  echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)," \
    "$(nproc) cores available"
  echo "- $("$sutra" --version | tr '\n' ' ' | sed 's/ $//'), $build_type build"
  echo "- model: $model ($(du -h "$model/model.safetensors" | cut -f1))"
  echo "- quantize: --preset aggressive --bits 4 --group-size 128 --methods rtn; $runs runs after 1 warm-up"
} | out

bench_threads 1
bench_threads 2

echo "bench.sh: sutra bench --kernels" >&2
"$sutra" bench --kernels --markdown --runs 3 >"$tmp/kernels.md"
{
  echo
  echo "## kernels"
  echo
  cat "$tmp/kernels.md"
} | out

# The speed-up from the median wall-clock seconds of the rtn row of each run's table
# ("| rtn | MEDIAN (MIN–MAX) | ..."); the copy limit alongside, for scale.
python3 - "$tmp/t1.md" "$tmp/t2.md" <<'PY' | out
import re, sys

def medians(path):
    rows = {}
    for line in open(path, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] in ("rtn", "copy limit"):
            m = re.match(r"([0-9.]+) \(", cells[1])
            if m and cells[0] not in rows:
                rows[cells[0]] = float(m.group(1))
    if "rtn" not in rows:
        sys.exit(f"bench.sh: error: no 'rtn' row with seconds in {path}; did the table format change?")
    return rows

one, two = medians(sys.argv[1]), medians(sys.argv[2])
print()
print("## 1 -> 2 threads")
print()
print("| | 1 thread | 2 threads | speed-up |")
print("|---|---|---|---|")
print(f"| rtn (median s) | {one['rtn']:.3f} | {two['rtn']:.3f} | {one['rtn'] / two['rtn']:.2f}x |")
if "copy limit" in one and "copy limit" in two:
    print(f"| copy limit (median s) | {one['copy limit']:.3f} | {two['copy limit']:.3f} | "
          f"{one['copy limit'] / two['copy limit']:.2f}x |")
print()
print(f"Speed-up 1 -> 2 threads: {one['rtn'] / two['rtn']:.2f}x")
PY

echo "bench.sh: report written to $report" >&2
