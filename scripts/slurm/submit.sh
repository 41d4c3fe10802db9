#!/usr/bin/env bash
# Quantizes MODEL into OUT on a Slurm cluster: a job array of N tasks (quantize_array.sbatch,
# --array=1-N), each writing one part, then a merge job (merge.sbatch) that starts once every
# task has succeeded (--dependency=afterok) and is cancelled if one fails. OUT is byte-identical
# to `sutra quantize MODEL -o OUT [QUANTIZE_OPTIONS...]` on one machine.
#
# Usage: scripts/slurm/submit.sh MODEL OUT N [-- QUANTIZE_OPTIONS...]
# Prints "ARRAY_JOB_ID MERGE_JOB_ID" on stdout. MODEL and OUT must be on a file system that
# the nodes share; the logs go beside OUT (OUT.quantize-JOB_TASK.log, OUT.merge-JOB.log).
# Environment:
#   SUTRA              the sutra binary, as the nodes see it (default: sutra on PATH here)
#   SUTRA_SBATCH_ARGS  more sbatch options for both jobs, split on spaces
#                      (e.g. "--partition=cpu --account=me --cpus-per-task=8 --time=1:00:00")
#   SUTRA_ARRAY_LIMIT  run at most this many tasks at once (--array=1-N%LIMIT)
# sbatch's own SBATCH_PARTITION, SBATCH_ACCOUNT, ... work as usual.
# Exit status: 0 submitted, 1 sbatch failed, 2 a usage error.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() {
  echo "usage: $0 MODEL OUT N [-- QUANTIZE_OPTIONS...]" >&2
  exit 2
}
[ $# -ge 3 ] || usage
model=$(realpath -m "$1")
out=$(realpath -m "$2")
n=$3
shift 3
if [ $# -gt 0 ]; then
  [ "$1" = "--" ] || usage
  shift
fi
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
  echo "submit.sh: N must be a positive number of parts, not '$n'" >&2
  exit 2
fi
if [ ! -e "$model" ]; then
  echo "submit.sh: no model at $model" >&2
  exit 2
fi
if [ ! -d "$(dirname "$out")" ]; then
  echo "submit.sh: the folder of $out does not exist" >&2
  exit 2
fi
command -v sbatch >/dev/null || { echo "submit.sh: sbatch not found" >&2; exit 2; }
# The nodes get an absolute path when this machine finds sutra; else the name, for their PATH.
SUTRA=${SUTRA:-sutra}
if path=$(command -v "$SUTRA"); then
  SUTRA=$(realpath "$path")
fi
export SUTRA  # sbatch passes the environment on (its default --export=ALL)
read -r -a extra <<<"${SUTRA_SBATCH_ARGS:-}"
array=1-$n${SUTRA_ARRAY_LIMIT:+%$SUTRA_ARRAY_LIMIT}

# --parsable prints "ID" or "ID;CLUSTER".
array_id=$(sbatch --parsable --array="$array" --job-name=sutra-quantize \
  --output="$out.quantize-%A_%a.log" "${extra[@]}" \
  "$here/quantize_array.sbatch" "$model" "$out" "$@") || exit 1
array_id=${array_id%%;*}
if ! merge_id=$(sbatch --parsable --dependency="afterok:$array_id" --kill-on-invalid-dep=yes \
  --job-name=sutra-merge --output="$out.merge-%j.log" "${extra[@]}" \
  "$here/merge.sbatch" "$out" "$n"); then
  echo "submit.sh: the merge was not submitted; array job $array_id runs on:" \
    "merge later with sbatch $here/merge.sbatch $out $n" >&2
  exit 1
fi
merge_id=${merge_id%%;*}
echo "submit.sh: array job $array_id ($n tasks), merge job $merge_id after it" >&2
echo "$array_id $merge_id"
