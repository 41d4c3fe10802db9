#!/usr/bin/env bash
# The GGUF table of the README: stories260K quantized to llama.cpp's types by llama.cpp itself
# and by sutra, every model measured in one run through llama.cpp (npm node-llama-cpp@3.22.1,
# llama.cpp v0.5.0 CPU prebuilt; test/interop/llamacpp_eval.mjs) on
# ../shared/text/tinystories_eval.txt in windows of 256 tokens (BOS + 255, the ids of
# `sutra tokenize --no-special`): perplexity, mean KL(F32 || model) and top-1 agreement against
# llama.cpp's logits of the F32 GGUF. Rows per type T (Q4_0, Q4_1, Q4_K_M):
#   llama.cpp T            llama_model_quantize of sutra's F32 GGUF (test/interop/llamacpp_quantize.cpp)
#   llama.cpp T + imatrix  the same with llama-imatrix's importance matrix of the F32 GGUF on
#                          ../shared/text/tinystories_calib.txt (-c 256)
#   sutra T, RTN           sutra quantize MODEL --method rtn --format gguf --gguf-type T
#   sutra T, AWQ           sutra quantize MODEL --calib-text tinystories_calib.txt --format gguf --gguf-type T
# The F32 GGUF: a .qbin keeping every tensor, exported with `sutra export --gguf-type F32`.
# Markdown on stdout (the table, then the per-tensor types llama.cpp chose); progress on stderr.
#
# Usage: scripts/gguf_table.sh [TYPE ...]   (default: Q4_0 Q4_1 Q4_K_M)
# Environment: SUTRA_SHARED (default ../shared), SUTRA_BIN (default build/bin/sutra),
#   SUTRA_GGUF_TABLE_IMATRIX=0 leaves out the imatrix rows, SUTRA_GGUF_TABLE_MAX_TOKENS=N
#   scores only the first N text tokens (default: all, ~99,000; about 70 s per model).
#   SUTRA_GGUF_TABLE_KEEP=DIR keeps the GGUFs and logs in DIR.
# Exit status: 0 table printed, 77 the llama.cpp client could not be installed or built, 2 usage
# or a missing input, 1 a step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SUTRA_SHARED:-../shared}
sutra=$(realpath "${SUTRA_BIN:-build/bin/sutra}")
model=$shared/models/stories260K-hf
calib=$shared/text/tinystories_calib.txt
evalt=$shared/text/tinystories_eval.txt
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(Q4_0 Q4_1 Q4_K_M)
[ -f "$model/model.safetensors" ] || { echo "gguf_table: $model not found (set SUTRA_SHARED)" >&2; exit 2; }
[ -x "$sutra" ] || { echo "gguf_table: $sutra not found (build sutra or set SUTRA_BIN)" >&2; exit 2; }
npm_dir=$(bash scripts/llamacpp_env.sh) || exit $?
tools=$(bash scripts/llamacpp_env.sh --tools) || exit $?
if [ -n "${SUTRA_GGUF_TABLE_KEEP:-}" ]; then
  tmp=$SUTRA_GGUF_TABLE_KEEP
  mkdir -p "$tmp"
else
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/sutra-gguf-table.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
fi
log() { echo "gguf_table: $*" >&2; }
seconds_of() {  # command... ; prints its wall time in seconds to fd 3
  local s e
  s=$(date +%s.%N)
  "$@"
  e=$(date +%s.%N)
  node -e 'console.log((process.argv[2] - process.argv[1]).toFixed(1))' "$s" "$e" >&3
}

log "F32 GGUF from sutra (every tensor kept)"
echo '{"name": "keep-all", "description": "every tensor stored unchanged (F32)",
       "default": {"bits": 8, "group_size": 64}, "rules": [{"pattern": "*", "keep": true}]}' \
  >"$tmp/keep-all.json"
"$sutra" quantize "$model" -o "$tmp/f32.qbin" --config "$tmp/keep-all.json" --method rtn --force >/dev/null
"$sutra" export "$tmp/f32.qbin" --format gguf --gguf-type F32 --model-dir "$model" \
  -o "$tmp/F32.gguf" --force >/dev/null 2>&1
"$sutra" tokenize "$model" --text "$evalt" --no-special >"$tmp/eval.ids"

imatrix=${SUTRA_GGUF_TABLE_IMATRIX:-1}
if [ "$imatrix" != 0 ]; then
  log "llama-imatrix on $calib"
  "$tools/llama-imatrix" -m "$tmp/F32.gguf" -f "$calib" -c 256 -b 256 -t 2 \
    -o "$tmp/stories260K.imatrix" >"$tmp/imatrix.log" 2>&1 ||
    { cat "$tmp/imatrix.log" >&2; exit 1; }
fi

# rows: label|how|file|time|size
rows=()
for t in "${types[@]}"; do
  log "llama.cpp $t"
  seconds_of "$tools/llamacpp_quantize" "$tmp/F32.gguf" "$tmp/llama-$t.gguf" "$t" \
    2>"$tmp/llama-$t.log" 3>"$tmp/time"
  rows+=("llama.cpp $t|llama_model_quantize|llama-$t.gguf|$(cat "$tmp/time")")
  if [ "$imatrix" != 0 ]; then
    log "llama.cpp $t + imatrix"
    seconds_of "$tools/llamacpp_quantize" "$tmp/F32.gguf" "$tmp/llama-imatrix-$t.gguf" "$t" \
      --imatrix "$tmp/stories260K.imatrix" 2>"$tmp/llama-imatrix-$t.log" 3>"$tmp/time"
    rows+=("llama.cpp $t + imatrix|llama_model_quantize, llama-imatrix|llama-imatrix-$t.gguf|$(cat "$tmp/time")")
  fi
  for method in rtn awq; do
    log "sutra $t, ${method^^}"
    flags=(--method rtn)
    [ "$method" = awq ] && flags=(--calib-text "$calib")
    if seconds_of "$sutra" quantize "$model" "${flags[@]}" --format gguf --gguf-type "$t" \
      -o "$tmp/sutra-$method-$t.gguf" --force --json >"$tmp/sutra-$method-$t.json" \
      2>"$tmp/sutra-$method-$t.log" 3>"$tmp/time"; then
      rows+=("sutra $t, ${method^^}|sutra quantize ${flags[*]/$calib/tinystories_calib.txt}|sutra-$method-$t.gguf|$(cat "$tmp/time")")
    else
      log "sutra quantize --format gguf --gguf-type $t failed: $(tail -1 "$tmp/sutra-$method-$t.log")"
      rows+=("sutra $t, ${method^^}|failed: $(tail -1 "$tmp/sutra-$method-$t.log")||")
    fi
  done
done

models=()
for r in "${rows[@]}"; do
  IFS='|' read -r _ _ file _ <<<"$r"
  [ -n "$file" ] && models+=(--model "$tmp/$file")
done
limit=()
[ -n "${SUTRA_GGUF_TABLE_MAX_TOKENS:-}" ] && limit=(--max-tokens "$SUTRA_GGUF_TABLE_MAX_TOKENS")
log "llama.cpp evaluation of ${#rows[@]} models against F32 (one run; about 70 s per model)"
node test/interop/llamacpp_eval.mjs --module-dir "$npm_dir" --threads 2 eval \
  --reference "$tmp/F32.gguf" "${models[@]}" --tokens "$tmp/eval.ids" --seq-len 256 "${limit[@]}" \
  >"$tmp/eval.json"

/usr/bin/env node - "$tmp" "${rows[@]}" <<'JS'
const fs = require("fs");
const path = require("path");
const [tmp, ...rows] = process.argv.slice(2);
const ev = JSON.parse(fs.readFileSync(path.join(tmp, "eval.json"), "utf8"));
const byFile = new Map(ev.models.map((m) => [path.basename(m.model), m]));
// Tensor types of a GGUF file, counted over its 2-D tensors, read from its header (GGUF v3:
// magic, version, tensor count, KV count, the KV pairs, then per tensor name, dims, type).
const GGML_TYPES = { 0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0",
    10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 30: "BF16" };
function typesOf(file) {
    const f = path.join(tmp, file);
    if (!fs.existsSync(f)) return "—";
    const b = fs.readFileSync(f);
    let o = 0;
    const u32 = () => { const v = b.readUInt32LE(o); o += 4; return v; };
    const u64 = () => { const v = Number(b.readBigUInt64LE(o)); o += 8; return v; };
    const str = () => { const n = u64(); const s = b.toString("utf8", o, o + n); o += n; return s; };
    const size = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
    const skip = (t) => {
        if (t === 8) str();
        else if (t === 9) { const et = u32(); const n = u64(); for (let i = 0; i < n; i++) skip(et); }
        else o += size[t];
    };
    if (b.toString("latin1", 0, 4) !== "GGUF") return "not a GGUF";
    o = 4; u32();
    const nt = u64(), nkv = u64();
    for (let i = 0; i < nkv; i++) { str(); skip(u32()); }
    const count = new Map();
    for (let i = 0; i < nt; i++) {
        str();
        const nd = u32();
        for (let d = 0; d < nd; d++) u64();
        const t = u32();
        u64();
        if (nd === 2) count.set(GGML_TYPES[t] ?? `type ${t}`, (count.get(GGML_TYPES[t] ?? `type ${t}`) ?? 0) + 1);
    }
    return [...count.entries()].sort((x, y) => y[1] - x[1]).map(([t, n]) => `${n}×${t}`).join(", ");
}
const size = (f) => (fs.existsSync(path.join(tmp, f)) ? `${(fs.statSync(path.join(tmp, f)).size / 1024).toFixed(0)} KiB` : "—");
console.log(`| weights | made with | perplexity | mean KL vs F32 | top-1 vs F32 | 2-D tensor types | GGUF size | quantize time |`);
console.log(`|---|---|---|---|---|---|---|---|`);
console.log(`| F32 | sutra export --gguf-type F32 | ${ev.reference.perplexity.toFixed(4)} | — | — | ${typesOf("F32.gguf") || "all F32"} | ${size("F32.gguf")} | — |`);
for (const r of rows) {
    const [label, how, file, time] = r.split("|");
    const m = byFile.get(file);
    if (!m) { console.log(`| ${label} | ${how} | — | — | — | — | — | — |`); continue; }
    console.log(`| ${label} | ${how} | ${m.perplexity.toFixed(4)} | ${m.mean_kl.toFixed(4)} | ` +
        `${(100 * m.top1_agreement).toFixed(1)}% | ${typesOf(file)} | ${size(file)} | ${time} s |`);
}
console.log();
console.log(`${ev.tokens} tokens in ${ev.windows} windows of ${ev.seq_len} (BOS + ${ev.seq_len - 1}), ` +
    `ids from \`sutra tokenize --no-special\`; ${ev.llama_cpp}, KV cache ${ev.kv_type}; evaluation ${ev.seconds.toFixed(0)} s.`);
// What llama.cpp's own quantization did (its fallbacks), from its log, grouped.
for (const r of rows) {
    const [label, , file] = r.split("|");
    if (!file || !file.startsWith("llama-")) continue;
    const lines = fs.readFileSync(path.join(tmp, file.replace(/\.gguf$/, ".log")), "utf8").split("\n");
    const groups = new Map();
    for (const l of lines) {
        const m = l.match(/warning: (\S+)\s+- ncols\s+(\d+) not divisible by\s+(\d+) \(required for type\s+(\w+)\).*-> falling back to\s+(\w+)/);
        if (!m) continue;
        const key = `${m[4].toUpperCase()} → ${m[5].toUpperCase()} (${m[2]} columns are not blocks of ${m[3]})`;
        const role = m[1].replace(/^blk\.\d+\./, "");
        if (!groups.has(key)) groups.set(key, new Map());
        groups.get(key).set(role, (groups.get(key).get(role) ?? 0) + 1);
    }
    if (groups.size === 0) continue;
    const summary = lines.find((l) => /required fallback quantization/.test(l));
    console.log(`\n${label}: ${summary ? summary.replace(/^.*WARNING: /, "") : "fallbacks"}:`);
    for (const [key, roles] of groups)
        console.log(`- ${key}: ` + [...roles.entries()].map(([n, c]) => (c > 1 ? `${n} ×${c}` : n)).join(", "));
}
JS
