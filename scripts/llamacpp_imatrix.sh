#!/usr/bin/env bash
# llama.cpp's importance matrix of stories260K from ../shared/text/tinystories_calib.txt, made
# by llama.cpp's own `llama-imatrix` (tools/imatrix/imatrix.cpp of the source bundled with
# node-llama-cpp@3.22.1, built against its CPU prebuilt by scripts/llamacpp_env.sh --tools),
# run on the F32 GGUF of stories260K. Writes, in OUT_DIR (default /tmp/sutra-imatrix):
#   stories260K.imatrix      the GGUF-based format (llama-imatrix's default)
#   stories260K.imatrix.dat  the legacy binary imatrix.dat layout (llama-imatrix's conversion
#                            of the same statistics: --in-file X --output-format dat)
#   README.txt               how they were made (commands, versions, figures)
# Protocol (llama-imatrix's): the whole text tokenized by llama.cpp with BOS, cut into chunks
# of 256 tokens (-c 256, the first token of each chunk replaced by BOS), every chunk
# evaluated; statistics are collected for every linear's input (not output.weight).
#
# Usage: scripts/llamacpp_imatrix.sh [F32.gguf]
#   Without an argument the F32 GGUF is made with sutra: a .qbin keeping every tensor
#   (`sutra quantize ../shared/models/stories260K-hf --config KEEP_ALL`) exported with
#   `sutra export --format gguf --gguf-type F32`.
# Environment: SUTRA_SHARED (default ../shared), SUTRA_IMATRIX_DIR (default /tmp/sutra-imatrix),
#   SUTRA_BIN (default build/bin/sutra).
# Exit status: 0 written, 77 the llama.cpp client could not be installed or built, 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SUTRA_SHARED:-../shared}
outdir=${SUTRA_IMATRIX_DIR:-/tmp/sutra-imatrix}
sutra=${SUTRA_BIN:-build/bin/sutra}
calib=$shared/text/tinystories_calib.txt
model=$shared/models/stories260K-hf
if [ $# -gt 1 ]; then
  echo "usage: $0 [F32.gguf]" >&2
  exit 2
fi
[ -f "$calib" ] || { echo "llamacpp_imatrix: $calib not found (set SUTRA_SHARED)" >&2; exit 2; }
tools=$(bash scripts/llamacpp_env.sh --tools) || exit $?

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sutra-imatrix.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ $# = 1 ]; then
  gguf=$(realpath "$1")
  made="given on the command line: $1"
else
  [ -x "$sutra" ] || { echo "llamacpp_imatrix: $sutra not found (build sutra or set SUTRA_BIN)" >&2; exit 2; }
  echo '{"name": "keep-all", "description": "every tensor stored unchanged (F32)",
         "default": {"bits": 8, "group_size": 64}, "rules": [{"pattern": "*", "keep": true}]}' \
    >"$tmp/keep-all.json"
  "$sutra" quantize "$model" -o "$tmp/f32.qbin" --config "$tmp/keep-all.json" --method rtn >/dev/null
  "$sutra" export "$tmp/f32.qbin" --format gguf --gguf-type F32 --model-dir "$model" \
    -o "$tmp/f32.gguf" >/dev/null 2>&1
  gguf=$tmp/f32.gguf
  made="sutra quantize $model -o f32.qbin --config keep-all.json --method rtn (every tensor kept, F32);
  sutra export f32.qbin --format gguf --gguf-type F32 --model-dir $model -o f32.gguf"
fi

mkdir -p "$outdir"
start=$(date +%s)
"$tools/llama-imatrix" -m "$gguf" -f "$calib" -c 256 -b 256 -t 2 --output-format gguf \
  -o "$tmp/stories260K.imatrix" >"$tmp/log.txt" 2>&1 ||
  { cat "$tmp/log.txt" >&2; echo "llamacpp_imatrix: llama-imatrix failed" >&2; exit 1; }
# The legacy layout by llama-imatrix's own conversion of the same statistics (no second run).
"$tools/llama-imatrix" -m "$gguf" -c 256 --in-file "$tmp/stories260K.imatrix" --output-format dat \
  -o "$tmp/stories260K.imatrix.dat" >"$tmp/log-dat.txt" 2>&1 ||
  { cat "$tmp/log-dat.txt" >&2; echo "llamacpp_imatrix: llama-imatrix --output-format dat failed" >&2; exit 1; }
seconds=$(($(date +%s) - start))
ppl=$(grep -o 'Final estimate: PPL = [0-9.]* +/- [0-9.]*' "$tmp/log.txt" || true)
chunks=$(grep -o 'computing over [0-9]* chunks, n_ctx=[0-9]*' "$tmp/log.txt" || true)
# A summary read back with llama.cpp's gguf-py (from the bundle; needs numpy).
summary=$(/usr/bin/python3 - "$tools/llama.cpp/gguf-py" "$tmp/stories260K.imatrix" <<'PY' 2>/dev/null || echo "(no summary: gguf-py or numpy unavailable)"
import sys
sys.path.insert(0, sys.argv[1])
import gguf
r = gguf.GGUFReader(sys.argv[2])
sums = [t for t in r.tensors if t.name.endswith(".in_sum2")]
counts = {t.name[:-len(".counts")]: float(t.data.ravel()[0]) for t in r.tensors if t.name.endswith(".counts")}
names = sorted(t.name[:-len(".in_sum2")] for t in sums)
print(f"{len(sums)} tensors; tokens per tensor: {sorted(set(counts.values()))}; "
      f"chunk_count {r.fields['imatrix.chunk_count'].contents()}, chunk_size {r.fields['imatrix.chunk_size'].contents()}")
print("  tensors: " + ", ".join(n for n in names if n.startswith("blk.0.")) + ", ... (blk.0 to blk.4)")
PY
)
mv "$tmp/stories260K.imatrix" "$outdir/stories260K.imatrix"
mv "$tmp/stories260K.imatrix.dat" "$outdir/stories260K.imatrix.dat"

cat >"$outdir/README.txt" <<EOF
llama.cpp importance matrices of stories260K (made by sutra's scripts/llamacpp_imatrix.sh)

Files
  stories260K.imatrix      GGUF-based imatrix (llama-imatrix's default format): per tensor
                           <name>.in_sum2 (F32, sum of x^2 per input channel) and <name>.counts
                           (F32, tokens seen), plus imatrix.datasets / imatrix.chunk_count /
                           imatrix.chunk_size metadata.
  stories260K.imatrix.dat  the same statistics in the legacy imatrix.dat layout
                           (--output-format dat): int32 n_entries; per entry int32 name length,
                           name, int32 ncall, int32 nval, float[nval] (mean x^2 times ncall);
                           then int32 chunk count and the dataset file name.
  Tensor names are llama.cpp's GGUF names (blk.N.attn_q.weight, blk.N.ffn_down.weight, ...);
  attn_q/attn_k/attn_v share one input (the attention norm's output), ffn_gate/ffn_up too.
  No entry for output.weight (llama-imatrix skips it without --process-output).

How
  llama.cpp: node-llama-cpp@3.22.1 + @node-llama-cpp/linux-x64@3.22.1 (llama.cpp v0.5.0 CPU
  prebuilt libraries); llama-imatrix compiled from tools/imatrix/imatrix.cpp of the llama.cpp
  source that node-llama-cpp ships (llama/gitRelease.bundle), unchanged, against those
  libraries (scripts/llamacpp_env.sh --tools).
  F32 GGUF: $made
  Calibration text: $calib ($(wc -c <"$calib") bytes), tokenized by llama.cpp from the GGUF's
  vocabulary (stories260K's tok512 SentencePiece-style vocabulary of 512).
  Commands:
    llama-imatrix -m F32.gguf -f tinystories_calib.txt -c 256 -b 256 -t 2 --output-format gguf -o stories260K.imatrix
    llama-imatrix -m F32.gguf -c 256 --in-file stories260K.imatrix --output-format dat -o stories260K.imatrix.dat
  Protocol (llama-imatrix's own): the whole text is tokenized with BOS, cut into chunks of
  256 tokens (the first token of each chunk replaced by BOS; the tail shorter than a chunk
  dropped), and every token of every chunk feeds the statistics.
  $chunks
  llama-imatrix's perplexity over the chunks (second half of each chunk scored): $ppl
  Contents: $summary
  Both files made in ${seconds} s on 2 threads.
  Made: $(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
echo "$outdir"
