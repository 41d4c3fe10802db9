#!/usr/bin/env bash
# Regenerates the GPTQ table of the README on stories260K: RTN, AWQ, GPTQ and AWQ + GPTQ, and
# the GPTQ variants (activation order, full-precision inputs, AWQ's clipping before GPTQ, AWQ's
# scale search with RTN-rounded trials),
# calibrated on ../shared/text/tinystories_calib.txt (16,384 tokens, 64 windows of 256),
# evaluated on tinystories_eval.txt against the F32 model, for 4-bit group 32, 4-bit group 64
# and 3-bit group 32 on every linear layer (embedding kept), as the AWQ table.
# Usage: scripts/gptq_table.sh [--variants]   (default: the four methods only)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SUTRA_SHARED:-../shared}
model=$shared/models/stories260K-hf
calib=$shared/text/tinystories_calib.txt
evalt=$shared/text/tinystories_eval.txt
[ -f "$model/model.safetensors" ] || { echo "gptq_table: $model not found (set SUTRA_SHARED)" >&2; exit 2; }
variants=0
for arg in "$@"; do
  case "$arg" in
    --variants) variants=1 ;;
    *) echo "gptq_table: unknown argument '$arg' (usage: scripts/gptq_table.sh [--variants])" >&2; exit 2 ;;
  esac
done
bash scripts/build.sh build >/dev/null
sutra=build/bin/sutra
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

$sutra calibrate "$model" --text "$calib" -o "$tmp/stats.safetensors" -q >/dev/null

row() {  # name bits group method [flags...]
  local name=$1 bits=$2 group=$3 method=$4; shift 4
  local calibflag=()
  [ "$method" != rtn ] && calibflag=(--calib "$tmp/stats.safetensors")
  $sutra quantize "$model" -o "$tmp/m.qbin" --config configs/linears-4bit-g32.json --bits "$bits" \
    --group-size "$group" --method "$method" "${calibflag[@]}" "$@" --force --json > "$tmp/q.json"
  $sutra validate "$tmp/m.qbin" --against "$model" --text "$evalt" --json > "$tmp/v.json" || true
  python3 - "$name" "$tmp/q.json" "$tmp/v.json" <<'PY'
import json, sys
name, q, v = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))["quality"]
print(f"| {name} | {v['quantized_perplexity']:.4f} | {v['mean_kl']:.4f} | "
      f"{100*v['top1_agreement']:.1f}% | {q['seconds']:.1f} s |", flush=True)
PY
}

echo "| weights | perplexity | mean KL | top-1 | quantize time |"
echo "|---|---|---|---|---|"
$sutra eval "$model" --text "$evalt" --json > "$tmp/e.json"
python3 - "$tmp/e.json" <<'PY'
import json, sys
print(f"| F32 | {json.load(open(sys.argv[1]))['perplexity']:.4f} | — | — | — |")
PY
for setting in "4 32" "4 64" "3 32"; do
  set -- $setting
  s="$1-bit g$2"
  row "RTN $s" "$1" "$2" rtn
  row "AWQ $s" "$1" "$2" awq
  row "GPTQ $s" "$1" "$2" gptq
  if [ $variants = 1 ]; then
    row "GPTQ $s, act-order" "$1" "$2" gptq --act-order
    row "GPTQ $s, full-precision inputs" "$1" "$2" gptq --gptq-inputs fp
  fi
  row "AWQ+GPTQ $s" "$1" "$2" awq+gptq
  if [ $variants = 1 ]; then
    row "AWQ+GPTQ $s, AWQ's trials rounded by RTN" "$1" "$2" awq+gptq --awq-trials rtn
    row "AWQ+GPTQ $s, with AWQ's clipping" "$1" "$2" awq+gptq --clip
    row "AWQ+GPTQ $s, act-order" "$1" "$2" awq+gptq --act-order
    row "AWQ+GPTQ $s, full-precision inputs" "$1" "$2" awq+gptq --gptq-inputs fp
  fi
done
