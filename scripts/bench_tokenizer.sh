#!/usr/bin/env bash
# Measures sutra's tokenizer encode against the reference implementation, the Hugging Face
# `tokenizers` crate 0.23.2 through its official Node binding (npm tokenizers@0.23.2), on the
# same text in the same run, for the six real tokenizers of shared/tokenizers.
#
# Usage: scripts/bench_tokenizer.sh [--quick]
#   --quick   a 1 MB text and one measured run (a smoke run of about a minute) instead of a
#             10 MB text and RUNS runs
# Environment:
#   RUNS, WARMUP      measured and unmeasured encodes per tokenizer and implementation
#                     (default 3 and 1; --quick: 1 and 0)
#   ROUNDS           repeat the whole interleaved measurement this many times (default 1); the
#                    table gives the median over the rounds
#   SUTRA_BENCH_DIR  scratch folder for the text and the raw results (default
#                    ${TMPDIR:-/tmp}/sutra-bench/tokenizers); nothing is written in the repo
#   SUTRA_NPM_DIR    where tokenizers@0.23.2 is installed with npm (default
#                    ${TMPDIR:-/tmp}/sutra-npm-tokenizers; reused when present)
#   SUTRA_SHARED_DIR the shared fixtures (default: ../shared beside the checkout)
#   SUTRA_BIN        a sutra binary to use as it is (default: build/bin/sutra, built first with
#                    SUTRA_TARGETS=sutra scripts/build.sh build)
#
# The text is shared/text/tinystories_eval.txt repeated to the size. For each tokenizer, in
# turn: `sutra bench --tokenizer DIR/tokenizer.json --text TEXT --runs N --warmup W --json`
# and scripts/tokenizer_reference.mjs (Tokenizer.fromFile, truncation and padding disabled,
# encode(text, null, {addSpecialTokens: true}) of the whole text per run), both on one thread
# (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false for the reference); the order of the two
# alternates from one tokenizer to the next. Then the ids themselves are compared (SHA-256 of
# `sutra tokenize --text` against the reference's ids of its last run, outside the timings).
# Prints a Markdown table (MB = 1e6 bytes; peak RSS as each process reports its own maximum).
# Exit status: 0 (also when the reference cannot be installed: "skipped: ..."), 1 when a
# token count or the ids differ, 2 on a usage or setup error.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "bench_tokenizer.sh: error: unknown argument '$arg' (usage: scripts/bench_tokenizer.sh [--quick])" >&2
      exit 2
      ;;
  esac
done
if [ "$quick" = 1 ]; then
  mb=1 runs=${RUNS:-1} warmup=${WARMUP:-0}
else
  mb=10 runs=${RUNS:-3} warmup=${WARMUP:-1}
fi
rounds=${ROUNDS:-1}
for v in "runs=$runs" "rounds=$rounds" "warmup=$warmup"; do
  case "${v#*=}" in
    '' | *[!0-9]*)
      echo "bench_tokenizer.sh: error: ${v%%=*} must be a non-negative integer, not '${v#*=}'" >&2
      exit 2
      ;;
  esac
done
if [ "$runs" -lt 1 ] || [ "$rounds" -lt 1 ]; then
  echo "bench_tokenizer.sh: error: RUNS and ROUNDS must be at least 1" >&2
  exit 2
fi

shared=${SUTRA_SHARED_DIR:-$repo/../shared}
tokdir=$shared/tokenizers
source_text=$shared/text/tinystories_eval.txt
if [ ! -f "$source_text" ] || [ ! -d "$tokdir" ]; then
  echo "bench_tokenizer.sh: error: $shared must hold text/tinystories_eval.txt and tokenizers/ (set SUTRA_SHARED_DIR)" >&2
  exit 2
fi
tokenizers=(gpt2 qwen3 mistral-7b-v0.1 mistral-7b-v0.1-legacy gpt-neox-20b flan-t5-large)

# The reference, installed outside the repo; a machine without npm or the registry skips.
npm_dir=${SUTRA_NPM_DIR:-${TMPDIR:-/tmp}/sutra-npm-tokenizers}
have_reference() {
  [ -f "$npm_dir/node_modules/tokenizers/package.json" ] &&
    node -e 'const p=require(process.argv[1]); if (p.version!=="0.23.2") process.exit(1)' \
      "$npm_dir/node_modules/tokenizers/package.json" 2>/dev/null &&
    (cd "$npm_dir" && node -e 'require("tokenizers")') >/dev/null 2>&1
}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "skipped: node or npm is not installed, so the reference (npm tokenizers@0.23.2) cannot run"
  exit 0
fi
if have_reference; then
  echo "reference: tokenizers@0.23.2 already installed in $npm_dir (reused)" >&2
else
  echo "reference: installing tokenizers@0.23.2 with npm into $npm_dir" >&2
  mkdir -p "$npm_dir"
  [ -f "$npm_dir/package.json" ] ||
    echo '{"name":"sutra-npm-tokenizers","private":true}' >"$npm_dir/package.json"
  if ! (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error \
    --fetch-timeout=30000 --fetch-retries=1 tokenizers@0.23.2) >&2 ||
    ! have_reference; then
    echo "skipped: npm could not install tokenizers@0.23.2 into $npm_dir (no network or registry?)"
    exit 0
  fi
fi

# sutra itself.
if [ -n "${SUTRA_BIN:-}" ]; then
  sutra=$SUTRA_BIN
else
  SUTRA_TARGETS=sutra bash scripts/build.sh build >&2
  sutra=$repo/build/bin/sutra
fi
[ -x "$sutra" ] || {
  echo "bench_tokenizer.sh: error: $sutra is not an executable" >&2
  exit 2
}

work=${SUTRA_BENCH_DIR:-${TMPDIR:-/tmp}/sutra-bench/tokenizers}
mkdir -p "$work"
text=$work/tinystories_${mb}mb.txt
bytes=$((mb * 1000000))
if [ ! -f "$text" ] || [ "$(stat -c %s "$text")" != "$bytes" ]; then
  # Whole copies of the source, then the head of one more, cut back to the last complete
  # UTF-8 character so that the text stays valid.
  node -e '
    const fs = require("fs");
    const [src, out, n] = [process.argv[1], process.argv[2], Number(process.argv[3])];
    const s = fs.readFileSync(src);
    const b = Buffer.alloc(n);
    for (let o = 0; o < n; o += s.length) s.copy(b, o, 0, Math.min(s.length, n - o));
    let end = n;
    while (end > 0 && (b[end - 1] & 0xc0) === 0x80) --end;
    if (end > 0 && b[end - 1] >= 0xc0) { --end; b.fill(0x20, end); }
    else if (end !== n) b.fill(0x20, end);
    fs.writeFileSync(out, b);
  ' "$source_text" "$text" "$bytes"
fi

export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
results=$work/results.jsonl
: >"$results"
run_sutra() { # tokenizer round
  "$sutra" --threads 1 bench --tokenizer "$tokdir/$1/tokenizer.json" --text "$text" \
    --runs "$runs" --warmup "$warmup" --json |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s).tokenizer;
      process.stdout.write(JSON.stringify({impl:"sutra",name:process.argv[1],round:+process.argv[2],
      median:j.seconds.median,min:j.seconds.min,max:j.seconds.max,load:j.load_seconds,
      tokens:j.tokens,rss:j.peak_rss_bytes})+"\n")})' "$1" "$2" >>"$results"
}
run_reference() { # tokenizer round [--ids]
  local extra=()
  [ -n "${3:-}" ] && extra=("$3")
  node scripts/tokenizer_reference.mjs --module-dir "$npm_dir" \
    --tokenizer "$tokdir/$1/tokenizer.json" --text "$text" --runs "$runs" --warmup "$warmup" \
    "${extra[@]}" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);
      process.stdout.write(JSON.stringify({impl:"reference",name:process.argv[1],round:+process.argv[2],
      median:j.seconds.median,min:j.seconds.min,max:j.seconds.max,load:j.load_seconds,
      tokens:j.tokens,rss:j.peak_rss_bytes,sha:j.ids_sha256||null})+"\n")})' "$1" "$2" >>"$results"
}

echo "text: $text ($mb MB); $runs runs after $warmup warm-up per tokenizer and implementation, $rounds round(s), 1 thread" >&2
k=0
for ((r = 1; r <= rounds; ++r)); do
  for name in "${tokenizers[@]}"; do
    ids_flag=
    [ "$r" = 1 ] && ids_flag=--ids
    echo "round $r: $name" >&2
    if [ $((k % 2)) = 0 ]; then
      run_sutra "$name" "$r"
      run_reference "$name" "$r" "$ids_flag"
    else
      run_reference "$name" "$r" "$ids_flag"
      run_sutra "$name" "$r"
    fi
    k=$((k + 1))
  done
done
# The ids, outside the timings: sutra tokenize prints one id a line, as hashed by the reference.
for name in "${tokenizers[@]}"; do
  sha=$("$sutra" --threads 1 tokenize "$tokdir/$name/tokenizer.json" --text "$text" | sha256sum | cut -d' ' -f1)
  echo "{\"impl\":\"sutra-ids\",\"name\":\"$name\",\"sha\":\"$sha\"}" >>"$results"
done

node - "$results" "$mb" "$runs" "$warmup" "$rounds" <<'EOF'
const fs = require("fs");
const [file, mb, runs, warmup, rounds] = process.argv.slice(2);
const rows = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const median = (v) => {
  const s = [...v].sort((x, y) => x - y), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
};
const names = [...new Set(rows.map((r) => r.name))];
const bytes = Number(mb) * 1e6;
const fmt = (v, d) => v.toFixed(d);
const rss = (b) => `${fmt(b / 1e6, 0)} MB`;
const out = [];
out.push(`**Tokenizer encode, sutra vs the reference (tokenizers@0.23.2, node binding)**: ` +
  `${mb} MB text (tinystories_eval.txt repeated), one encode call of the whole text with special ` +
  `tokens, 1 thread; ${runs} runs after ${warmup} warm-up per tokenizer and implementation, ` +
  `${rounds} round(s), median seconds; MB = 1e6 bytes.`);
out.push("");
out.push("| tokenizer | text MB | sutra MB/s | reference MB/s | sutra/reference | sutra tokens | reference tokens | counts equal | ids equal | load s (sutra / ref) | peak RSS (sutra / ref) |");
out.push("|---|---|---|---|---|---|---|---|---|---|---|");
let bad = [];
for (const n of names) {
  const s = rows.filter((r) => r.name === n && r.impl === "sutra");
  const f = rows.filter((r) => r.name === n && r.impl === "reference");
  const sIds = rows.find((r) => r.name === n && r.impl === "sutra-ids");
  const fIds = f.find((r) => r.sha);
  const sm = median(s.map((r) => r.median)), fm = median(f.map((r) => r.median));
  const st = s[0].tokens, ft = f[0].tokens;
  const countsEqual = s.every((r) => r.tokens === st) && f.every((r) => r.tokens === st) && st === ft;
  const idsEqual = sIds && fIds && sIds.sha === fIds.sha;
  if (!countsEqual) bad.push(`${n}: token counts differ (sutra ${st}, reference ${ft})`);
  else if (!idsEqual) bad.push(`${n}: same token count but the ids differ`);
  out.push(`| ${n} | ${fmt(bytes / 1e6, 1)} | ${fmt(bytes / 1e6 / sm, 2)} | ${fmt(bytes / 1e6 / fm, 2)} | ` +
    `${fmt(fm / sm, 2)}× | ${st} | ${ft} | ${countsEqual ? "yes" : "**NO**"} | ${idsEqual ? "yes" : "**NO**"} | ` +
    `${fmt(median(s.map((r) => r.load)), 3)} / ${fmt(median(f.map((r) => r.load)), 3)} | ` +
    `${rss(Math.max(...s.map((r) => r.rss)))} / ${rss(Math.max(...f.map((r) => r.rss)))} |`);
}
console.log(out.join("\n"));
if (bad.length) {
  console.error("\nMISMATCH between sutra and the reference:\n  " + bad.join("\n  "));
  process.exit(1);
}
EOF
