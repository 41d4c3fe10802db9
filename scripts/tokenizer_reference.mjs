// The reference implementation's side of scripts/bench_tokenizer.sh: the Hugging Face
// `tokenizers` crate through its official Node binding (npm tokenizers@0.23.2), timed on the
// same text and in the same way as `sutra bench --tokenizer`.
//
// Usage: node scripts/tokenizer_reference.mjs --module-dir DIR --tokenizer tokenizer.json
//            --text FILE [--runs N] [--warmup N] [--ids]
//   --module-dir  the folder where `npm install tokenizers@0.23.2` was run (its node_modules)
//   --ids         also print the count and SHA-256 of the ids ("ID\n" each, as `sutra
//                 tokenize --text` prints them), computed outside the timed runs
// Prints one JSON object on stdout: load_seconds, seconds {median, min, max}, tokens,
// text_bytes, mb_per_s, tokens_per_s, peak_rss_bytes (and ids_sha256 with --ids).
//
// Tokenizer.fromFile, truncation and padding disabled, then
// encode(text, null, {addSpecialTokens: true}) of the whole text per run. Set
// RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false for one thread (the caller does).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

function fail(msg) {
  process.stderr.write(`tokenizer_reference.mjs: error: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const a = { runs: 3, warmup: 1, ids: false };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${k} needs a value`);
      return argv[++i];
    };
    if (k === "--module-dir") a.moduleDir = value();
    else if (k === "--tokenizer") a.tokenizer = value();
    else if (k === "--text") a.text = value();
    else if (k === "--runs") a.runs = Number(value());
    else if (k === "--warmup") a.warmup = Number(value());
    else if (k === "--ids") a.ids = true;
    else fail(`unknown argument '${k}'`);
  }
  if (!a.moduleDir || !a.tokenizer || !a.text) fail("give --module-dir, --tokenizer and --text");
  if (!Number.isInteger(a.runs) || a.runs < 1) fail("--runs must be an integer >= 1");
  if (!Number.isInteger(a.warmup) || a.warmup < 0) fail("--warmup must be an integer >= 0");
  return a;
}

function median(v) {
  const s = [...v].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

const a = parseArgs(process.argv.slice(2));
const require = createRequire(path.join(path.resolve(a.moduleDir), "package.json"));
const { Tokenizer } = require("tokenizers");

const text = readFileSync(a.text, "utf8");
const textBytes = Buffer.byteLength(text, "utf8");

const tLoad = process.hrtime.bigint();
const tok = Tokenizer.fromFile(a.tokenizer);
tok.disableTruncation();
tok.disablePadding();
const loadSeconds = seconds(tLoad);

const times = [];
let tokens = -1;
let last = null;
for (let i = 0; i < a.warmup + a.runs; ++i) {
  const t0 = process.hrtime.bigint();
  const enc = await tok.encode(text, null, { addSpecialTokens: true });
  const s = seconds(t0);
  const n = enc.getLength();
  if (tokens >= 0 && n !== tokens) fail(`the reference gave ${n} tokens in one run, ${tokens} in another`);
  tokens = n;
  if (i >= a.warmup) times.push(s);
  last = enc;
}

const out = {
  implementation: "tokenizers@0.23.2 (node binding)",
  tokenizer: a.tokenizer,
  text: a.text,
  text_bytes: textBytes,
  runs: a.runs,
  warmup: a.warmup,
  load_seconds: loadSeconds,
  seconds: { median: median(times), min: Math.min(...times), max: Math.max(...times) },
  mb_per_s: textBytes / 1e6 / median(times),
  tokens_per_s: tokens / median(times),
  tokens,
  peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
};
if (a.ids) {
  const h = createHash("sha256");
  const ids = last.getIds();
  const chunk = 1 << 16;
  for (let i = 0; i < ids.length; i += chunk) h.update(ids.slice(i, i + chunk).join("\n") + "\n");
  out.ids_sha256 = ids.length ? h.digest("hex") : createHash("sha256").digest("hex");
}
process.stdout.write(JSON.stringify(out) + "\n");
