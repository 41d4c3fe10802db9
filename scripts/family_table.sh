#!/usr/bin/env bash
# Regenerates the README's RWKV and Mamba table: each model quantized with round-to-nearest,
# AWQ, GPTQ and AWQ + GPTQ (the last three calibrated alike, on the default 16,384 tokens of
# ../shared/text/tinystories_calib.txt), every block linear at 4 bits in groups of 32 and of 64
# (embedding and head kept: configs/linears-4bit-g32.json), evaluated against the original on
# the first 20,000 tokens of tinystories_eval.txt (bytes for the byte-level RWKV models; tok512
# for the Mamba).
# Usage: [SUTRA_BIN=path/to/sutra] scripts/family_table.sh [extra quantize flags for the
# calibrated runs...]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SUTRA_SHARED:-../shared}
calib=$shared/text/tinystories_calib.txt
evalt=$shared/text/tinystories_eval.txt
models=("RWKV v5.2|$shared/models/tiny-rwkv/tiny-rwkv-5v2-730K.safetensors"
        "RWKV v7|$shared/models/tiny-rwkv/tiny-rwkv-7v0-834K.safetensors"
        "Mamba|$shared/models/tiny-mamba")
[ -f "$calib" ] || { echo "family_table: $calib not found (set SUTRA_SHARED)" >&2; exit 2; }
# SUTRA_BIN: a sutra binary to use instead of building build/bin/sutra.
sutra=${SUTRA_BIN:-build/bin/sutra}
[ -n "${SUTRA_BIN:-}" ] || bash scripts/build.sh build >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
extra=("$@")

row() {  # label model bits group method [flags...]
  local label=$1 model=$2 bits=$3 group=$4 method=$5; shift 5
  local calibflag=()
  [ "$method" != rtn ] && calibflag=(--calib-text "$calib")
  $sutra quantize "$model" -o "$tmp/m.qbin" --config configs/linears-4bit-g32.json --bits "$bits" \
    --group-size "$group" --method "$method" "${calibflag[@]}" "$@" --force --json > "$tmp/q.json"
  $sutra validate "$tmp/m.qbin" --against "$model" --text "$evalt" --max-tokens 20000 --json \
    > "$tmp/v.json" || true
  python3 - "$label" "$tmp/q.json" "$tmp/v.json" <<'PY'
import json, sys
label, q, v = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))["quality"]
print(f"| {label} | {v['original_perplexity']:.4f} | {v['quantized_perplexity']:.4f} | "
      f"{v['mean_kl']:.3g} | {100*v['top1_agreement']:.1f}% | {q['seconds']:.1f} s |")
PY
}

echo "| model, weights | original ppl | quantized ppl | mean KL | top-1 | quantize time |"
echo "|---|---|---|---|---|---|"
for m in "${models[@]}"; do
  name=${m%%|*}; path=${m#*|}
  for group in 32 64; do
    row "$name, RTN 4-bit g$group" "$path" 4 "$group" rtn
    row "$name, AWQ 4-bit g$group" "$path" 4 "$group" awq "${extra[@]}"
    row "$name, GPTQ 4-bit g$group" "$path" 4 "$group" gptq "${extra[@]}"
    row "$name, AWQ+GPTQ 4-bit g$group" "$path" 4 "$group" awq+gptq "${extra[@]}"
  done
done
