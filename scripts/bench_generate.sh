#!/usr/bin/env bash
# Generation speed of sutra's packed 4-bit .qbin against the original checkpoint and against
# llama.cpp on GGUF exports of the same weights, all measured in one run, on the 1B-parameter
# Llama-shaped checkpoint of scripts/bench.sh (TinyLlama-1.1B shapes, F16, random weights).
#
# Usage: scripts/bench_generate.sh [--quick]
#   --quick   use the tiny example (0.6 M parameters) instead: a smoke run of seconds
# Environment:
#   SUTRA_BENCH_DIR   where the checkpoint and the outputs go (default /tmp/sutra-bench); the
#                     checkpoint is made as scripts/bench.sh makes it (scripts/bench_model.sh)
#   SUTRA_BUILD_DIR   build folder (default build)
#   THREADS           threads of every model run (default 2)
#   RUNS              rounds (default 3): each runs `sutra bench --generate` once (the original
#                     and the .qbin, each in a process of its own) and then llama.cpp once per
#                     GGUF, so every row is measured in every round, interleaved; medians
#   PROMPT_TOKENS     prompt length (default 512); GEN_TOKENS decode steps (default 128)
#   SUTRA_LLAMACPP_NPM_DIR  see scripts/llamacpp_env.sh
#
# Steps, in DIR = $SUTRA_BENCH_DIR/generate-1b (generate-tiny with --quick):
#  1. sutra quantize MODEL -o DIR/model-4b-g128.qbin --method rtn --bits 4 --group-size 128
#     (every 2-D tensor 4-bit g128 RTN: the linears, and also the embedding and lm_head, since
#     --bits and --group-size override the preset's 8-bit rule for those two);
#  2. sutra quantize MODEL --method rtn --format gguf --gguf-type Q4_0 (and Q4_K_M), with a
#     synthetic llama2.c vocabulary DIR/vocab.bin (--tokenizer: <unk>, <s>, </s>, the 256 byte
#     tokens, then made-up pieces up to vocab_size) because the generated checkpoint has no
#     tokenizer and GGUF needs one; the model folder is left as it is (the prompt is ids, so
#     the vocabulary's text never matters). Outputs are remade when older than MODEL or sutra;
#  3. RUNS rounds of
#       sutra --threads T bench MODEL --generate --against DIR/model-4b-g128.qbin
#             --prompt-tokens 512 --gen-tokens 128 --runs 1 --warmup 0 --json
#       node test/interop/llamacpp_eval.mjs speed --model G.gguf --tokens DIR/prompt.ids ...
#     where prompt.ids are the ids sutra's bench used (its JSON; pseudo-random ids, the model
#     having no tokenizer), so every row processes the same prompt; greedy generation, an EOS
#     not stopping it. llama.cpp runs with its defaults (mmap, F16 KV cache, flash attention
#     "auto"), one batch of the whole prompt, then one decode per token.
# The Markdown table (stdout, and DIR/bench-generate.md): file size, prompt tok/s, generation
# tok/s, median ms per decode step, peak RSS, and generation relative to the original and to
# llama.cpp Q4_0; then the machine and the exact commands. Progress on stderr; the raw JSON
# of every run stays in DIR/runs.
# Exit status: 0 the table is complete; 77 llama.cpp (npm node-llama-cpp@3.22.1) could not be
# installed or loaded: the table then has sutra's rows only and says why; 2 usage error;
# 1 a step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
me=bench_generate.sh

shape=1b
for arg in "$@"; do
  case "$arg" in
    --quick) shape=tiny ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "$me: error: unknown argument '$arg' (usage: scripts/bench_generate.sh [--quick])" >&2
      exit 2
      ;;
  esac
done
positive() {  # NAME VALUE DEFAULT: prints VALUE (or DEFAULT when empty), a positive integer
  local v=${2:-$3}
  case "$v" in
    '' | *[!0-9]* | 0)
      echo "$me: error: $1 must be a positive integer, not '$v'" >&2
      exit 2
      ;;
  esac
  echo "$v"
}
runs=$(positive RUNS "${RUNS:-}" 3)
threads=$(positive THREADS "${THREADS:-}" 2)
prompt_tokens=$(positive PROMPT_TOKENS "${PROMPT_TOKENS:-}" 512)
gen_tokens=$(positive GEN_TOKENS "${GEN_TOKENS:-}" 128)
command -v python3 >/dev/null 2>&1 || {
  echo "$me: error: python3 is needed (it writes the vocabulary and the table)" >&2
  exit 2
}

# The build, the checkpoint ($model) and its page-cache read (scripts/bench_model.sh).
# shellcheck source=scripts/bench_model.sh
. scripts/bench_model.sh
bench_model_prepare "$me" "$shape"
dir=$base/generate-$shape
mkdir -p "$dir/runs"
rm -f "$dir"/runs/*.json
report=$dir/bench-generate.md
qbin=$dir/model-4b-g128.qbin
log() { echo "$me: $*" >&2; }

stale() {  # FILE: true when FILE is missing or older than the checkpoint or the sutra binary
  [ ! -s "$1" ] || [ "$1" -ot "$model/model.safetensors" ] || [ "$1" -ot "$sutra" ]
}

# 1. The .qbin.
quantize_qbin=("$sutra" --threads "$threads" quantize "$model" -o "$qbin" --method rtn --bits 4
  --group-size 128 --force --json)
if stale "$qbin"; then
  log "quantizing $model -> $qbin (RTN, 4-bit, group 128)"
  "${quantize_qbin[@]}" >"$dir/qbin-quantize.json" || {
    log "error: the quantization failed: ${quantize_qbin[*]}"
    exit 1
  }
fi

# 2. The GGUFs, with a vocabulary of exactly vocab_size made-up tokens.
vocab_size=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' \
  "$model/config.json")
vocab=$dir/vocab.bin
python3 - "$vocab" "$vocab_size" <<'PY'
# A llama2.c tokenizer.bin (int32 max_token_length, then per token float32 score, int32 length,
# bytes): <unk>, BOS, EOS, the byte tokens <0x00>..<0xFF>, then " a", " b", ..., " aa", ...
import os, struct, sys
out, n = sys.argv[1], int(sys.argv[2])
pieces = ["<unk>", "\n<s>\n", "\n</s>\n"] + ["<0x%02X>" % b for b in range(256)]
letters = "abcdefghijklmnopqrstuvwxyz"
i = 0
while len(pieces) < n:
    s, k = "", i
    while True:
        s = letters[k % 26] + s
        k = k // 26 - 1
        if k < 0:
            break
    pieces.append(" " + s)
    i += 1
data = [p.encode() for p in pieces[:n]]
blob = struct.pack("<i", max(len(d) for d in data)) + b"".join(
    struct.pack("<fi", 0.0, len(d)) + d for d in data)
if not os.path.exists(out) or open(out, "rb").read() != blob:
    with open(out + ".tmp", "wb") as f:
        f.write(blob)
    os.replace(out + ".tmp", out)
PY
gguf_types=(Q4_0 Q4_K_M)
gguf_cmd() {  # TYPE: cmd=(the command that writes DIR/sutra-TYPE.gguf)
  cmd=("$sutra" --threads "$threads" quantize "$model" --method rtn --format gguf --gguf-type "$1"
    --tokenizer "$vocab" -o "$dir/sutra-$1.gguf" --force --json)
}
for t in "${gguf_types[@]}"; do
  g=$dir/sutra-$t.gguf
  if stale "$g" || [ "$g" -ot "$vocab" ]; then
    log "exporting $model -> $g (RTN, $t)"
    gguf_cmd "$t"
    "${cmd[@]}" >"$dir/gguf-$t-quantize.json" 2>"$dir/gguf-$t-quantize.log" || {
      cat "$dir/gguf-$t-quantize.log" >&2
      log "error: the GGUF export failed: ${cmd[*]}"
      exit 1
    }
  fi
done

# 3. llama.cpp's client.
llama_status=0
llama_reason=
npm_dir=$(bash scripts/llamacpp_env.sh) || llama_status=$?
if [ "$llama_status" = 77 ]; then
  llama_reason="the llama.cpp client (npm node-llama-cpp@3.22.1) could not be installed (scripts/llamacpp_env.sh exit 77: node or npm missing, or the npm registry unreachable)"
  log "$llama_reason; measuring sutra's rows only"
elif [ "$llama_status" != 0 ]; then
  exit "$llama_status"
fi

log "reading the .qbin (and the GGUFs when llama.cpp runs) into the page cache"
cat "$qbin" >/dev/null
if [ -z "$llama_reason" ]; then
  for t in "${gguf_types[@]}"; do cat "$dir/sutra-$t.gguf" >/dev/null; done
fi

bench_cmd=("$sutra" --threads "$threads" bench "$model" --generate --against "$qbin"
  --prompt-tokens "$prompt_tokens" --gen-tokens "$gen_tokens" --runs 1 --warmup 0 --json)
speed_cmd() {  # TYPE: cmd=(llama.cpp's run on DIR/sutra-TYPE.gguf)
  cmd=(node test/interop/llamacpp_eval.mjs --module-dir "$npm_dir" --threads "$threads" speed
    --model "$dir/sutra-$1.gguf" --tokens "$dir/prompt.ids" --gen-tokens "$gen_tokens")
}
for r in $(seq 1 "$runs"); do
  log "round $r of $runs: sutra bench --generate (original, then the .qbin)"
  "${bench_cmd[@]}" >"$dir/runs/sutra-$r.json" || {
    log "error: sutra bench --generate failed: ${bench_cmd[*]}"
    exit 1
  }
  if [ "$r" = 1 ]; then
    python3 -c 'import json,sys; print(" ".join(map(str, json.load(open(sys.argv[1]))["prompt"]["ids"])))' \
      "$dir/runs/sutra-1.json" >"$dir/prompt.ids"
  fi
  [ -z "$llama_reason" ] || continue
  for t in "${gguf_types[@]}"; do
    log "round $r of $runs: llama.cpp $t"
    s=0
    speed_cmd "$t"
    "${cmd[@]}" >"$dir/runs/llama-$t-$r.json" 2>"$dir/runs/llama-$t-$r.log" || s=$?
    if [ "$s" = 3 ]; then  # the prebuilt llama.cpp did not load
      llama_reason="the prebuilt llama.cpp did not load: $(tail -n 1 "$dir/runs/llama-$t-$r.log")"
      log "$llama_reason; measuring sutra's rows only"
      rm -f "$dir"/runs/llama-*.json
      break
    elif [ "$s" != 0 ]; then
      cat "$dir/runs/llama-$t-$r.log" >&2
      log "error: llama.cpp's run failed: ${cmd[*]}"
      exit 1
    fi
  done
done

# The table.
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(
  [ -n "$(GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' (modified)')"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
version=$("$sutra" --version | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')
cmds=$(
  echo "${quantize_qbin[*]}"
  for t in "${gguf_types[@]}"; do
    gguf_cmd "$t"
    echo "${cmd[*]}"
  done
  echo "${bench_cmd[*]}   # RUNS times"
  if [ -z "$llama_reason" ]; then
    for t in "${gguf_types[@]}"; do
      speed_cmd "$t"
      echo "${cmd[*]}   # after each sutra bench"
    done
  fi
)
python3 - "$dir" "$runs" "$shape" "$model" "$commit" "$cpu" "$(nproc)" "$version" \
  "$build_type" "$llama_reason" "$cmds" "${gguf_types[@]}" <<'PY' | tee "$report"
import json, os, statistics, struct, sys
from datetime import datetime, timezone

(d, runs, shape, model, commit, cpu, cores, version, build_type, llama_reason, cmds,
 *types) = sys.argv[1:]
runs = int(runs)
load = lambda p: json.load(open(os.path.join(d, "runs", p)))
sutra = [load(f"sutra-{r}.json") for r in range(1, runs + 1)]
llama = {} if llama_reason else {
    t: [load(f"llama-{t}-{r}.json") for r in range(1, runs + 1)] for t in types}

med = statistics.median
def human(b):
    for unit, f in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= f:
            return f"{b / f:.2f} {unit}"
    return f"{b} B"
def rate(xs):
    m = med(xs)
    fmt = (lambda v: f"{v:.1f}") if m < 100 else (lambda v: f"{v:.0f}")
    return fmt(m) + (f" ({fmt(min(xs))}–{fmt(max(xs))})" if len(xs) > 1 else "")

# One row per model: per-round rates, then the per-round ratios pair each round's rates.
rows = []  # (label, file bytes, [prompt tok/s], [gen tok/s], [ms/step], peak rss)
for k, label in ((0, None), (1, "sutra .qbin 4-bit g128 RTN")):
    m = [s["models"][k] for s in sutra]
    rows.append((label, m[0]["file_bytes"], [x["prompt_tokens_per_s"]["median"] for x in m],
                 [x["gen_tokens_per_s"]["median"] for x in m], [x["step_ms"]["median"] for x in m],
                 max(x["peak_rss_bytes"] for x in m)))
for t, rs in llama.items():
    rows.append((f"llama.cpp {t} (sutra's GGUF, RTN)", rs[0]["file_bytes"],
                 [x["prompt_tokens_per_s"] for x in rs], [x["gen_tokens_per_s"] for x in rs],
                 [x["step_ms_median"] for x in rs], max(x["peak_rss_bytes"] for x in rs)))

# What the original file holds and what the forward pass runs it as.
with open(os.path.join(model, "model.safetensors"), "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
dtypes = sorted({v["dtype"] for k, v in header.items() if k != "__metadata__"})
rows[0] = (f"original ({'/'.join(dtypes)} file, run as F32)",) + rows[0][1:]

orig_gen = rows[0][3]
q4_0 = next((r for r in rows if r[0].startswith("llama.cpp Q4_0")), None)
def ratio(a, b):
    return f"{med([x / y for x, y in zip(a, b)]):.2f}x"

s0 = sutra[0]
ids = s0["prompt"]["ids"]
for i, s in enumerate(sutra):
    for m in s["models"]:
        if m["prompt_ids"] != ids:
            sys.exit(f"bench_generate.sh: error: round {i + 1}: sutra's {m['role']} run got other prompt ids")
for t, rs in llama.items():
    for i, x in enumerate(rs):
        if x["prompt_ids"] != ids:
            sys.exit(f"bench_generate.sh: error: round {i + 1}: llama.cpp {t} got other prompt ids than sutra")
out = []
p = out.append
p(f"# Generation speed: sutra .qbin vs original vs llama.cpp ({shape})")
p("")
p(f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; commit: {commit}")
p(f"- CPU: {cpu}, {cores} cores available; {s0['threads']} threads for every model")
p(f"- {version}; {build_type} build; sutra's kernels in this run: {s0['isa']}, OpenBLAS {s0['blas']}")
p(f"- model: {model} ({s0['family']}), {s0['prompt']['tokens']} prompt tokens "
  f"({s0['prompt']['source']} ids from `sutra bench`, checked to be the same for every row and "
  f"round), {s0['gen_tokens']} generated greedily "
  f"(an EOS does not stop them)")
p(f"- {runs} round{'s' if runs > 1 else ''}, each measuring every row once, interleaved: "
  "median (min–max) over the rounds; each ratio is the median of the rounds' own ratios")
p("")
hdr = ["model", "file size", f"prompt tok/s ({s0['prompt']['tokens']})",
       f"generation tok/s ({s0['gen_tokens']})", "ms/step", "peak RSS", "generation vs original"]
if q4_0:
    hdr.append("generation vs llama.cpp Q4_0")
p("| " + " | ".join(hdr) + " |")
p("|" + "---|" * len(hdr))
for label, size, pr, gr, ms, rss in rows:
    cells = [label, human(size), rate(pr), rate(gr), f"{med(ms):.{2 if med(ms) < 10 else 1}f}", human(rss),
             ratio(gr, orig_gen)]
    if q4_0:
        cells.append(ratio(gr, q4_0[3]))
    p("| " + " | ".join(cells) + " |")
if not llama:
    p("")
    p(f"llama.cpp rows not measured: {llama_reason}.")
p("")
q = s0["models"][1]
p("Notes:")
p("- original: sutra's forward pass on the checkpoint, every weight converted to F32 when "
  "loaded (OpenBLAS sgemm), as `sutra generate` runs it; .qbin: the same forward pass on the "
  "packed 4-bit weights, whatever kernels the build has; every linear, the embedding and "
  "lm_head are 4-bit group 128 (RTN). Both in sutra's own processes (fork), F32 KV cache.")
if llama:
    l0 = next(iter(llama.values()))[0]
    fa = l0["flash_attention"] + " (node-llama-cpp's default" + (
        f"; llama.cpp {l0['flash_attention_resolved']} it)" if l0.get("flash_attention_resolved")
        else ")")
    p(f"- llama.cpp: {l0['llama_cpp']} through test/interop/llamacpp_eval.mjs `speed`: mmap, "
      f"KV cache {l0['kv_type']}, flash attention {fa}, the prompt "
      f"in one batch of {l0['batch_size']}, one decode per generated token, {l0['threads']} "
      "threads; a node process per run. Its peak RSS is the whole node process (about "
      f"{human(l0['start_rss_bytes'])} before the model is loaded), the GGUF's mmap'ed pages "
      "and any copy llama.cpp makes of the weights in another buffer type.")
    for t, rs in llama.items():
        bufs = rs[0].get("weight_buffers_mib") or {}
        if bufs:
            p(f"- llama.cpp {t} weight buffers (its log): " +
              ", ".join(f"{k} {human(int(v * 2**20))}" for k, v in bufs.items()))
    for t in llama:
        j = json.load(open(os.path.join(d, f"gguf-{t}-quantize.json")))
        count = {}
        for x in j["export"]["tensors"]:
            if x["name"] in ("token_embd.weight", "output.weight") or x["type"] in ("F32",):
                continue
            count[x["type"]] = count.get(x["type"], 0) + 1
        special = {x["name"]: x["type"] for x in j["export"]["tensors"]
                   if x["name"] in ("token_embd.weight", "output.weight")}
        p(f"- GGUF {t}: linears " + ", ".join(f"{n}×{k}" for k, n in sorted(count.items())) +
          "; " + ", ".join(f"{k} {v}" for k, v in special.items()) + " (sutra's llama.cpp mix)")
p(f"- peak RSS of sutra's runs: the child process's own peak (it starts at about "
  f"{human(q['start_rss_bytes'])}, shared with the bench process).")
p("")
p("Commands:")
p("")
p("```")
for c in cmds.splitlines():
    p(c)
p("```")
print("\n".join(out))
PY
log "report written to $report"
if [ -n "$llama_reason" ]; then exit 77; fi
