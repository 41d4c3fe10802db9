#!/usr/bin/env bash
# What 8-bit activations cost in accuracy: each model quantized once (RTN, every block linear at
# 4 bits in groups of 32 or 64, embedding and head kept: configs/linears-4bit-g32.json), then
# `sutra validate --text` on the first 20,000 tokens of ../shared/text/tinystories_eval.txt with
# `--activations f32` (exact products with the decoded weights) and `--activations q8` (each
# activation row rounded to 8 bits per block of 32, llama.cpp's Q8_0, integer dot products).
# One Markdown row per model, group size and activation format.
# Usage: [SUTRA_BIN=path/to/sutra] [SUTRA_SHARED=../shared] scripts/activations_table.sh
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SUTRA_SHARED:-../shared}
evalt=$shared/text/tinystories_eval.txt
models=("stories260K (Llama)|$shared/models/stories260K-hf"
        "RWKV v5.2|$shared/models/tiny-rwkv/tiny-rwkv-5v2-730K.safetensors"
        "RWKV v7|$shared/models/tiny-rwkv/tiny-rwkv-7v0-834K.safetensors"
        "Mamba|$shared/models/tiny-mamba")
[ -f "$evalt" ] || { echo "activations_table: $evalt not found (set SUTRA_SHARED)" >&2; exit 2; }
sutra=${SUTRA_BIN:-build/bin/sutra}
[ -n "${SUTRA_BIN:-}" ] || bash scripts/build.sh build >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "| model, weights | activations | original ppl | quantized ppl | mean KL | top-1 |"
echo "|---|---|---|---|---|---|"
for m in "${models[@]}"; do
  name=${m%%|*}; path=${m#*|}
  for group in 32 64; do
    $sutra quantize "$path" -o "$tmp/m.qbin" --config configs/linears-4bit-g32.json --bits 4 \
      --group-size "$group" --method rtn --force --json > /dev/null
    for act in f32 q8; do
      $sutra validate "$tmp/m.qbin" --against "$path" --text "$evalt" --max-tokens 20000 \
        --activations "$act" --json > "$tmp/v.json" || true
      python3 - "$name, RTN 4-bit g$group" "$act" "$tmp/v.json" <<'PY'
import json, sys
label, act, v = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))["quality"]
print(f"| {label} | {act} | {v['original_perplexity']:.4f} | {v['quantized_perplexity']:.4f} | "
      f"{v['mean_kl']:.4g} | {100*v['top1_agreement']:.2f}% |")
PY
    done
  done
done
