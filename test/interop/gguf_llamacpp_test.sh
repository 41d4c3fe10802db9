#!/usr/bin/env bash
# Interop test of sutra's GGUF export with the real llama.cpp (npm node-llama-cpp@3.22.1 and
# its CPU prebuilt @node-llama-cpp/linux-x64@3.22.1, llama.cpp v0.5.0, installed by
# scripts/llamacpp_env.sh). The CTest entry `interop_gguf_llamacpp`. On stories260K:
#  1. sutra writes a .qbin keeping every tensor (F32) and exports it to GGUF F32 and Q8_0;
#  2. llama.cpp's greedy decoding from BOS (256 steps) of the F32 GGUF must reproduce
#     shared/models/stories260K/golden_greedy_256.txt exactly; for Q8_0 the matching prefix is
#     reported, and it must equal the decoding of llama.cpp's own Q8_0 (below);
#  3. llama.cpp's tokenization of the evaluation text with the GGUF's embedded vocabulary must
#     give the ids `sutra tokenize --no-special` gives;
#  4. llama.cpp's perplexity of the F32 GGUF on shared/text/tinystories_eval.txt (windows of
#     256 = BOS + 255 text tokens, the ids of step 3, every text token scored once: the
#     protocol of `sutra eval`) must equal `sutra eval` of the .qbin within 1e-4 relative;
#     the Q8_0 GGUF's perplexity must be within 1% of it (its KL and top-1 are reported);
#  5. sutra's Q8_0 tensors must equal, byte for byte, llama_model_quantize's Q8_0 of sutra's
#     F32 GGUF (test/interop/llamacpp_quantize.cpp), read back with llama.cpp's gguf-py.
#     Needs a C++ compiler and /usr/bin/python3 with numpy; reported as not run without them.
#
# Usage: test/interop/gguf_llamacpp_test.sh SUTRA_BINARY [SHARED_DIR]
# Environment:
#   SUTRA_LLAMACPP_NPM_DIR / SUTRA_LLAMACPP_TOOLS_DIR  see scripts/llamacpp_env.sh
#   SUTRA_INTEROP_MAX_TOKENS  score only the first N text tokens (default 16320: 64 windows of
#                             BOS + 255, to keep CI short; 0: all, ~99,000)
# Exit status: 0 all checks passed, 1 a check failed, 77 skipped (no node/npm, the registry
# unreachable, the prebuilt llama.cpp does not load, or no shared fixtures), 2 usage error.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 SUTRA_BINARY [SHARED_DIR]" >&2
  exit 2
fi
sutra=$(realpath "$1")
shared=${2:-$root/../shared}
if [ ! -x "$sutra" ]; then
  echo "gguf_llamacpp_test: error: $sutra is not an executable" >&2
  exit 2
fi
model=$shared/models/stories260K-hf
golden=$shared/models/stories260K/golden_greedy_256.txt
evalt=$shared/text/tinystories_eval.txt
for f in "$model/model.safetensors" "$golden" "$evalt"; do
  if [ ! -f "$f" ]; then
    echo "skipped: no shared fixture $f"
    exit 77
  fi
done
status=0
npm_dir=$(bash "$root/scripts/llamacpp_env.sh") || status=$?
if [ "$status" = 77 ]; then
  echo "skipped: the llama.cpp client (npm node-llama-cpp@3.22.1) could not be installed"
  exit 77
elif [ "$status" != 0 ]; then
  exit "$status"
fi
max_tokens=${SUTRA_INTEROP_MAX_TOKENS:-16320}

work=$(mktemp -d "${TMPDIR:-/tmp}/sutra-interop-gguf.XXXXXX")
trap 'echo "FAILED: the command at line $LINENO exited with status $? (files kept in $work)"' ERR
failures=0
check() {  # condition-status message
  if [ "$1" = 0 ]; then
    echo "ok: $2"
  else
    echo "FAILED: $2"
    failures=$((failures + 1))
  fi
}
harness() {
  node "$here/llamacpp_eval.mjs" --module-dir "$npm_dir" --threads 2 "$@"
}
jq_() {  # FILE JS-expression-of-d
  node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(eval(process.argv[2]))' "$1" "$2"
}

# 1. The exports.
cat >"$work/keep-all.json" <<'EOF'
{"name": "keep-all", "description": "every tensor stored unchanged (F32)",
 "default": {"bits": 8, "group_size": 64}, "rules": [{"pattern": "*", "keep": true}]}
EOF
"$sutra" quantize "$model" -o "$work/f32.qbin" --config "$work/keep-all.json" --method rtn \
  >"$work/quantize.txt"
for t in F32 Q8_0; do
  "$sutra" export "$work/f32.qbin" --format gguf --gguf-type "$t" --model-dir "$model" \
    -o "$work/$t.gguf" >"$work/export-$t.txt" 2>&1
done
echo "exported: $work/F32.gguf ($(wc -c <"$work/F32.gguf") bytes), $work/Q8_0.gguf ($(wc -c <"$work/Q8_0.gguf") bytes)"

# 2. Greedy decoding from BOS.
rc=0
harness greedy --model "$work/F32.gguf" --steps 256 >"$work/greedy-F32.json" || rc=$?
if [ "$rc" = 3 ]; then
  echo "skipped: the prebuilt llama.cpp of @node-llama-cpp/linux-x64@3.22.1 does not load here"
  rm -rf "$work"
  exit 77
elif [ "$rc" != 0 ]; then
  echo "FAILED: llama.cpp could not run $work/F32.gguf (exit $rc); files kept in $work"
  exit 1
fi
harness greedy --model "$work/Q8_0.gguf" --steps 256 >"$work/greedy-Q8_0.json"
sed -n '3p' "$golden" >"$work/golden.ids"
compare_greedy() {  # json -> "matching-prefix total"
  node -e '
    const fs = require("fs");
    const got = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).tokens;
    const want = fs.readFileSync(process.argv[2], "utf8").trim().split(/\s+/).map(Number);
    let n = 0;
    while (n < want.length && got[n] === want[n]) n++;
    console.log(`${n} ${want.length} ${got.length}`);' "$1" "$work/golden.ids"
}
read -r n total got < <(compare_greedy "$work/greedy-F32.json")
r=0; { [ "$n" = "$total" ] && [ "$got" = "$total" ]; } || r=1
check $r "F32 GGUF: llama.cpp's greedy decoding from BOS reproduces golden_greedy_256.txt ($n of $total tokens, BOS included)"
read -r nq totalq _ < <(compare_greedy "$work/greedy-Q8_0.json")
echo "info: Q8_0 GGUF: llama.cpp's greedy decoding matches golden_greedy_256.txt on its first $nq of $totalq tokens"

# 3. Tokenization: sutra's ids = llama.cpp's ids with the GGUF's vocabulary.
"$sutra" tokenize "$model" --text "$evalt" --no-special >"$work/eval.ids"
harness tokenize --model "$work/F32.gguf" --text "$evalt" >"$work/llama-tokens.json"
cmp=$(node -e '
  const fs = require("fs");
  const a = fs.readFileSync(process.argv[1], "utf8").trim().split(/\s+/).map(Number);
  const b = JSON.parse(fs.readFileSync(process.argv[2], "utf8")).ids;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  console.log(i === a.length && i === b.length ? `same ${a.length}` : `differ ${i} ${a.length} ${b.length}`);' \
  "$work/eval.ids" "$work/llama-tokens.json")
r=0; [ "${cmp%% *}" = same ] || r=1
check $r "tokenization of tinystories_eval.txt: llama.cpp with the GGUF's vocabulary = sutra tokenize ($cmp)"

# 4. Perplexity, same ids, same windows.
limit=()
[ "$max_tokens" != 0 ] && limit=(--max-tokens "$max_tokens")
"$sutra" eval "$work/f32.qbin" --model-dir "$model" --tokens "$work/eval.ids" "${limit[@]}" \
  --json >"$work/sutra-eval.json"
harness eval --reference "$work/F32.gguf" --model "$work/Q8_0.gguf" --tokens "$work/eval.ids" \
  --seq-len 256 "${limit[@]}" >"$work/llama-eval.json"
sp=$(jq_ "$work/sutra-eval.json" 'd.perplexity')
st=$(jq_ "$work/sutra-eval.json" 'd.tokens')
lp=$(jq_ "$work/llama-eval.json" 'd.reference.perplexity')
lt=$(jq_ "$work/llama-eval.json" 'd.tokens')
rel=$(node -e 'console.log(Math.abs(process.argv[1] - process.argv[2]) / process.argv[2])' "$lp" "$sp")
r=0
node -e 'process.exit(process.argv[1] === process.argv[2] && Number(process.argv[3]) <= 1e-4 ? 0 : 1)' "$lt" "$st" "$rel" || r=1
check $r "F32 perplexity on tinystories_eval.txt: llama.cpp $lp, sutra eval $sp over $st tokens (relative difference $rel, tolerance 1e-4)"
qp=$(jq_ "$work/llama-eval.json" 'd.models[0].perplexity')
qkl=$(jq_ "$work/llama-eval.json" 'd.models[0].mean_kl')
qtop=$(jq_ "$work/llama-eval.json" 'd.models[0].top1_agreement')
r=0
node -e 'process.exit(Math.abs(process.argv[1] - process.argv[2]) / process.argv[2] <= 0.01 ? 0 : 1)' "$qp" "$lp" || r=1
check $r "Q8_0 perplexity through llama.cpp $qp within 1% of F32 $lp (KL vs F32 $qkl, top-1 $qtop)"

# 5. sutra's Q8_0 = llama.cpp's own Q8_0 of the same F32 weights.
tools=""
tools=$(bash "$root/scripts/llamacpp_env.sh" --tools 2>"$work/tools.log") || tools=""
if [ -z "$tools" ]; then
  echo "not run: llama.cpp's own quantization (could not build the tools: $(tail -1 "$work/tools.log"))"
elif ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  echo "not run: llama.cpp's own quantization comparison (needs /usr/bin/python3 with numpy)"
else
  "$tools/llamacpp_quantize" "$work/F32.gguf" "$work/llama-Q8_0.gguf" Q8_0 >"$work/quantize.log" 2>&1
  out=$(/usr/bin/python3 - "$tools/llama.cpp/gguf-py" "$work/Q8_0.gguf" "$work/llama-Q8_0.gguf" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import gguf
a = {t.name: t for t in gguf.GGUFReader(sys.argv[2]).tensors}
b = {t.name: t for t in gguf.GGUFReader(sys.argv[3]).tensors}
bad = sorted(set(a) ^ set(b))
for n in sorted(set(a) & set(b)):
    if a[n].tensor_type != b[n].tensor_type or a[n].data.tobytes() != b[n].data.tobytes():
        bad.append(f"{n} ({a[n].tensor_type.name} vs {b[n].tensor_type.name})")
print(f"{len(a)} {len(bad)} " + ", ".join(bad[:5]))
PY
  )
  read -r count nbad rest <<<"$out"
  r=0; [ "$nbad" = 0 ] || r=1
  check $r "sutra's Q8_0 GGUF = llama_model_quantize Q8_0 of sutra's F32 GGUF, byte for byte ($count tensors, $nbad differ${rest:+: $rest})"
  harness greedy --model "$work/llama-Q8_0.gguf" --steps 256 >"$work/greedy-llama-Q8_0.json"
  r=0
  node -e '
    const fs = require("fs");
    const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).tokens;
    const b = JSON.parse(fs.readFileSync(process.argv[2], "utf8")).tokens;
    process.exit(JSON.stringify(a) === JSON.stringify(b) ? 0 : 1);' \
    "$work/greedy-Q8_0.json" "$work/greedy-llama-Q8_0.json" || r=1
  check $r "Q8_0: greedy decoding of sutra's export = that of llama.cpp's own Q8_0"

  # 6. AWQ inside GGUF: sutra's one-step AWQ Q4_0 against llama.cpp's own Q4_0 of the same F32
  # weights, both scored by llama.cpp against its F32 logits on the same windows.
  "$sutra" quantize "$model" --calib-text "$shared/text/tinystories_calib.txt" --format gguf \
    --gguf-type Q4_0 -o "$work/awq-Q4_0.gguf" >"$work/awq.txt" 2>&1
  "$tools/llamacpp_quantize" "$work/F32.gguf" "$work/llama-Q4_0.gguf" Q4_0 >>"$work/quantize.log" 2>&1
  harness eval --reference "$work/F32.gguf" --model "$work/awq-Q4_0.gguf" \
    --model "$work/llama-Q4_0.gguf" --tokens "$work/eval.ids" --seq-len 256 "${limit[@]}" \
    >"$work/q4-eval.json"
  akl=$(jq_ "$work/q4-eval.json" 'd.models[0].mean_kl')
  lkl=$(jq_ "$work/q4-eval.json" 'd.models[1].mean_kl')
  r=0
  node -e 'process.exit(Number(process.argv[1]) < Number(process.argv[2]) ? 0 : 1)' "$akl" "$lkl" || r=1
  check $r "Q4_0 through llama.cpp: sutra's AWQ export has lower mean KL vs F32 ($akl) than llama.cpp's own Q4_0 ($lkl)"
fi

# 7. sutra's block encoders and decoders against llama.cpp's own libggml (quantize_row_*_ref
# bytes, dequantization of every type): the hidden [ggml-llama] case of the unit tests.
lib=$npm_dir/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so
tests=$(dirname "$sutra")/sutra_tests
if [ -f "$lib" ] && [ -x "$tests" ]; then
  r=0
  SUTRA_LIBGGML_BASE=$lib "$tests" "[ggml-llama]" >"$work/ggml-llama.txt" 2>&1 || r=1
  check $r "ggml types: sutra's blocks = llama.cpp's reference bytes and decode alike (sutra_tests [ggml-llama])"
else
  echo "not run: the libggml check (no $lib or no $tests)"
fi

if [ "$failures" = 0 ]; then
  echo "passed: sutra's GGUF export of stories260K runs in llama.cpp v0.5.0 as sutra runs it"
  rm -rf "$work"
  exit 0
fi
echo "$failures check(s) failed; files kept in $work"
exit 1
