#!/usr/bin/env bash
# The main job on a built-in example: sets up and builds sutra, generates a small Llama-shaped
# checkpoint deterministically (users need no download), quantizes it with each preset, and
# checks the result: inspect, validate against the original, dequantize.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
# Only what the example runs: the tests are built by scripts/test.sh.
SUTRA_TARGETS="sutra sutra-make-example" bash scripts/build.sh build >/dev/null
sutra=build/bin/sutra
out=examples
mkdir -p "$out"

build/bin/sutra-make-example "$out/tiny-llama" --shape tiny --force
for preset in aggressive balanced conservative; do
  echo
  echo "== sutra quantize $out/tiny-llama -o $out/tiny-$preset.qbin --preset $preset"
  $sutra quantize "$out/tiny-llama" -o "$out/tiny-$preset.qbin" --preset "$preset" --force
done
echo
echo "== sutra inspect $out/tiny-balanced.qbin (first lines)"
$sutra inspect "$out/tiny-balanced.qbin" | head -n 8
echo
echo "== sutra validate $out/tiny-balanced.qbin --against $out/tiny-llama --max-rel-error 0.25"
$sutra validate "$out/tiny-balanced.qbin" --against "$out/tiny-llama" --max-rel-error 0.25 | tail -n 4
echo
echo "== sutra dequantize $out/tiny-balanced.qbin -o $out/tiny-balanced-f32.safetensors"
$sutra dequantize "$out/tiny-balanced.qbin" -o "$out/tiny-balanced-f32.safetensors" --force
