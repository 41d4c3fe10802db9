#!/usr/bin/env bash
# Regenerates the AWQ-versus-round-to-nearest table of the README on stories260K:
# calibrate on ../shared/text/tinystories_calib.txt, evaluate on tinystories_eval.txt, for
# 4-bit group 32, 4-bit group 64 and 3-bit group 32 on every linear layer (embedding kept).
# Usage: scripts/awq_table.sh [extra quantize flags for the AWQ runs...]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SUTRA_SHARED:-../shared}
model=$shared/models/stories260K-hf
calib=$shared/text/tinystories_calib.txt
evalt=$shared/text/tinystories_eval.txt
[ -f "$model/model.safetensors" ] || { echo "awq_table: $model not found (set SUTRA_SHARED)" >&2; exit 2; }
bash scripts/build.sh build >/dev/null
sutra=build/bin/sutra
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

$sutra calibrate "$model" --text "$calib" -o "$tmp/stats.safetensors" -q >/dev/null

row() {  # name bits group method [flags...]
  local name=$1 bits=$2 group=$3 method=$4; shift 4
  local calibflag=()
  [ "$method" = awq ] && calibflag=(--calib "$tmp/stats.safetensors")
  $sutra quantize "$model" -o "$tmp/m.qbin" --config configs/linears-4bit-g32.json --bits "$bits" \
    --group-size "$group" --method "$method" "${calibflag[@]}" "$@" --force --json > "$tmp/q.json"
  $sutra validate "$tmp/m.qbin" --against "$model" --text "$evalt" --json > "$tmp/v.json" || true
  python3 - "$name" "$tmp/q.json" "$tmp/v.json" <<'PY'
import json, sys
name, q, v = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))["quality"]
print(f"| {name} | {v['quantized_perplexity']:.4f} | {v['perplexity_increase']:+.4f} | {v['mean_kl']:.4f} | "
      f"{100*v['top1_agreement']:.1f}% | {q['seconds']:.1f} s |")
PY
}

echo "| weights | perplexity | increase | mean KL | top-1 | quantize time |"
echo "|---|---|---|---|---|---|"
$sutra eval "$model" --text "$evalt" --json > "$tmp/e.json"
python3 - "$tmp/e.json" <<'PY'
import json, sys
print(f"| F32 | {json.load(open(sys.argv[1]))['perplexity']:.4f} | — | — | — | — |")
PY
extra=("$@")
for setting in "4 32" "4 64" "3 32"; do
  set -- $setting
  row "RTN $1-bit g$2" "$1" "$2" rtn
  row "AWQ $1-bit g$2" "$1" "$2" awq "${extra[@]}"
done
