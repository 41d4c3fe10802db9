// Differential test of `sutra tokenize` against the reference implementation, the Hugging Face
// `tokenizers` crate 0.23.2 through its official Node binding (npm tokenizers@0.23.2), on a few
// hundred seeded random strings and the six real tokenizers of shared/tokenizers. Run through
// tokenizer_reference_test.sh, which installs the reference.
//
// Usage: node tokenizer_reference_test.mjs --module-dir DIR --sutra BIN --shared DIR
//            [--seed N] [--count N] [--budget SECONDS] [--work DIR]
//   --budget  seconds after which mismatches are no longer localized (default 55): a run
//             where all agree takes about 30 s; one that differs stops looking by then
// Exit status: 0 all agree, 1 a mismatch (the first ones printed: input, expected, actual),
// 2 a setup error.
//
// `sutra tokenize` loads its tokenizer on every call (0.1-1.5 s for these files) and encodes
// one text per call, so the strings are not run one call each. For each tokenizer and mode
// they are joined into one document, separated by a special token of that tokenizer
// (<|endoftext|> or </s>): text between special tokens is normalized, pre-tokenized and
// tokenized on its own, so each string still gets the treatment it gets alone, except that
// only the first is at the start of the input (Metaspace prepend_scheme "first"; those
// tokenizers also run their first kSolo strings alone). Decoding: the reference's ids of each
// string, and seeded random id sequences, joined by the separator's id, are decoded by both
// (special tokens kept and skipped). That is 4 sutra calls per tokenizer when all agree.
// A mode that differs is then localized, within --budget: the first differing id is mapped to
// its string through the reference's offsets, that string run alone to show the mismatch,
// removed, and the document run again (at most kMaxLocate strings per tokenizer and mode); a
// differing decode is bisected down to the sequences that differ (at most kMaxDecodeLeaves).
// Everything found is also written to WORK/report.json.
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

const kTokenizers = [
  "gpt2",
  "qwen3",
  "mistral-7b-v0.1",
  "mistral-7b-v0.1-legacy",
  "gpt-neox-20b",
  "flan-t5-large",
];
const kMaxLocate = 8; // encode mismatches localized per tokenizer and mode
const kMaxDecodeLeaves = 6; // decode mismatches localized per tokenizer and mode
const kShowPerKind = 4; // mismatches printed in full per tokenizer and kind
const kSolo = 12; // strings also run alone for prepend_scheme "first"

function fail(msg) {
  process.stderr.write(`tokenizer_reference_test: error: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const a = { seed: 20260601, count: 300, budget: 55, work: path.join(os.tmpdir(), "sutra-interop-tokenizers") };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    const v = () => (i + 1 < argv.length ? argv[++i] : fail(`${k} needs a value`));
    if (k === "--module-dir") a.moduleDir = v();
    else if (k === "--sutra") a.sutra = v();
    else if (k === "--shared") a.shared = v();
    else if (k === "--seed") a.seed = Number(v());
    else if (k === "--count") a.count = Number(v());
    else if (k === "--budget") a.budget = Number(v());
    else if (k === "--work") a.work = v();
    else fail(`unknown argument '${k}'`);
  }
  if (!a.moduleDir || !a.sutra || !a.shared) fail("give --module-dir, --sutra and --shared");
  if (!Number.isInteger(a.seed) || !Number.isInteger(a.count) || a.count < 1)
    fail("--seed and --count must be integers (count >= 1)");
  return a;
}

// ---------------------------------------------------------------- seeded random strings

function mulberry32(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const kWords = [
  "the", "The", "a", "Once", "upon", "time", "little", "girl", "named", "Lily", "hello",
  "Hello", "HELLO", "world", "tokenizer", "quantization", "don", "I", "you", "naïve", "café",
  "résumé", "Zürich", "straße", "ﬁnance", "Ａｂｃ", "ﬀ", "x", "ab", "supercalifragilistic",
  "http", "https://example.com/a?b=c&d=e", "user@example.org", "foo_bar", "camelCase",
  "snake_case", "CONSTANT", "i++", "x->y", "a::b", "std::vector<int>", "def", "return",
];
const kSpaces = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", " \n ", "\u00a0",
  "\u3000", "\u2028", "\u0085", "\u200b", "\ufeff", "\u2009", "\u202f", "        ", " \t \n"];
const kPunct = [".", ",", "!", "?", ";", ":", "'", "\"", "(", ")", "[", "]", "{", "}", "-",
  "--", "—", "–", "_", "/", "\\", "@", "#", "$", "%", "^", "&", "*", "+", "=", "<", ">", "|",
  "~", "`", "...", "…", "«", "»", "“", "”", "‘", "’", "¿", "¡", "§", "©", "®", "™", "°", "±"];
const kContractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "n't"];
const kEmoji = ["😀", "👍", "👍🏽", "👨‍👩‍👧", "❤️", "🇫🇷", "🤖", "✨", "🧑🏿‍💻", "☃", "⚡️", "🫠"];
const kScripts = ["中文", "日本語", "ひらがな", "カタカナ", "한국어", "汉字漢字", "的", "是",
  "مرحبا", "שלום", "Привет", "Ελληνικά", "हिन्दी", "ไทย", "ქართული", "Tiếng Việt", "ü", "ø",
  "①②③", "½", "²", "ℌ", "Ⅻ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟙𝟚"];
const kCombining = ["e\u0301", "a\u0308", "o\u0302\u0323", "n\u0303", "\u0301", "A\u030a",
  "i\u0307", "\u0915\u094d\u0937", "\u1100\u1161\u11a8", "e\u0301\u0301\u0301"];
const kSpecial = ["<s>", "</s>", "<unk>", "<pad>", "<|endoftext|>", "<|im_start|>",
  "<|im_end|>", "<think>", "</think>", "<|padding|>", "<extra_id_0>", "<extra_id_99>",
  "[INST]", "[/INST]", "<|im_start|>user\n", "<<SYS>>"];
const kInvalidLooking = ["<s", "</s", "s>", "<|im_start", "<|endoftext", "|>", "<<s>>",
  "<0xFF>", "<0x0A>", "<0x00>", "▁", "▁▁", "Ġ", "Ċ", "ĠĠ", "\u0000", "\u0001", "\u001b[0m",
  "\u007f", "\ufffd", "\ufffe", "\uffff", "\u{10ffff}", "\ue000", "\\x00", "\\u0000", "&amp;",
  "%20", "\u0080", "\u009f", "\u00ad", "\u2060", "\u200d", "\u200c", "\u061c", "\u202e"];
// Raw bytes that are not valid UTF-8 (the file given to sutra holds them as they are; the
// reference, which takes a string, gets them decoded with each maximal ill-formed subpart as
// U+FFFD, as Node's and Rust's lossy decoders do).
const kBadBytes = [[0xff], [0xc0, 0x80], [0xe4, 0xb8], [0x80], [0xed, 0xa0, 0x80],
  [0xf0, 0x9f, 0x98], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc3], [0xe2, 0x82, 0x28], [0xfe, 0xfe]];

function makeStrings(seed, count) {
  const rnd = mulberry32(seed);
  const int = (n) => Math.floor(rnd() * n);
  const pick = (arr) => arr[int(arr.length)];
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const piece = () => {
    const r = rnd();
    if (r < 0.22) return pick(kWords);
    if (r < 0.3) {
      let w = "";
      for (let n = 1 + int(r < 0.23 ? 80 : 10); n > 0; --n) w += letters[int(letters.length)];
      return w;
    }
    if (r < 0.42) return pick(kSpaces);
    if (r < 0.49) {
      let d = "";
      for (let n = 1 + int(14); n > 0; --n) d += String(int(10));
      return d;
    }
    if (r < 0.58) return pick(kPunct);
    if (r < 0.61) return pick(kContractions);
    if (r < 0.66) return pick(kEmoji);
    if (r < 0.73) return pick(kScripts);
    if (r < 0.77) return pick(kCombining);
    if (r < 0.86) return pick(kSpecial);
    if (r < 0.93) return pick(kInvalidLooking);
    if (r < 0.95) return pick(kPunct).repeat(2 + int(30));
    if (r < 0.97) return " ".repeat(2 + int(40));
    return pick(kBadBytes);
  };
  const out = [
    { bytes: Buffer.alloc(0) },
    { bytes: Buffer.from(" ") },
    { bytes: Buffer.from("Hello world") },
    { bytes: Buffer.from(" Hello") },
    { bytes: Buffer.from("<s>Hello</s>") },
    { bytes: Buffer.from("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n") },
  ];
  while (out.length < count) {
    const parts = [];
    let raw = false;
    const n = 1 + int(rnd() < 0.8 ? 8 : 30);
    for (let i = 0; i < n; ++i) {
      const p = piece();
      if (Array.isArray(p)) {
        parts.push(Buffer.from(p));
        raw = true;
      } else {
        parts.push(Buffer.from(p, "utf8"));
      }
      if (rnd() < 0.35) parts.push(Buffer.from(" "));
    }
    out.push({ bytes: Buffer.concat(parts), raw });
  }
  for (const s of out) s.text = s.bytes.toString("utf8"); // what the reference is given
  return out;
}

// ---------------------------------------------------------------- running the two sides

function run(bin, args) {
  return new Promise((resolve) => {
    execFile(bin, args, { encoding: "buffer", maxBuffer: 1 << 28 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function parseIds(buf) {
  const s = buf.toString("utf8").trim();
  return s === "" ? [] : s.split(/\s+/).map(Number);
}

const sameIds = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
const firstDiff = (a, b) => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) ++i;
  return i;
};

function show(s) {
  const j = JSON.stringify(s.text);
  return s.raw ? `${j} (raw bytes: ${s.bytes.toString("hex")})` : j;
}

function showBytes(buf) {
  const text = buf.toString("utf8");
  const valid = Buffer.from(text, "utf8").equals(buf);
  return valid ? JSON.stringify(text) : `${JSON.stringify(text)} (not valid UTF-8: ${buf.toString("hex")})`;
}

class Checker {
  constructor(args, tokName, Tokenizer) {
    this.args = args;
    this.name = tokName;
    this.file = path.join(args.shared, "tokenizers", tokName, "tokenizer.json");
    this.dir = path.join(args.work, tokName);
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    this.tok = Tokenizer.fromFile(this.file);
    this.tok.disableTruncation();
    this.tok.disablePadding();
    const json = JSON.parse(readFileSync(this.file, "utf8"));
    const specials = json.added_tokens.filter((t) => t.special).map((t) => t.content);
    this.sep = ["<|endoftext|>", "</s>"].find((s) => specials.includes(s));
    if (!this.sep) fail(`${this.file}: no <|endoftext|> or </s> special token to separate strings`);
    this.sepId = this.tok.tokenToId(this.sep);
    this.prependFirst = JSON.stringify(json).includes('"prepend_scheme":"first"');
    this.vocab = this.tok.getVocabSize(true);
    this.calls = 0;
    this.mismatches = []; // {kind, input, expected, actual, ...}
    this.results = []; // per mode: {mode, total, bad | badCount, complete}
  }

  async sutraEncode(bytes, special) {
    const f = path.join(this.dir, `text-${this.calls}.txt`);
    writeFileSync(f, bytes);
    ++this.calls;
    const r = await run(this.args.sutra, ["tokenize", this.file, "--text", f, ...(special ? [] : ["--no-special"])]);
    rmSync(f, { force: true });
    if (r.code !== 0) return { error: `exit ${r.code}: ${r.stderr.toString().trim()}` };
    return { ids: parseIds(r.stdout) };
  }

  async sutraDecode(ids, skip) {
    const f = path.join(this.dir, `ids-${this.calls}.txt`);
    writeFileSync(f, ids.join("\n") + (ids.length ? "\n" : ""));
    ++this.calls;
    const r = await run(this.args.sutra, ["tokenize", this.file, "--decode", f, ...(skip ? ["--no-special"] : [])]);
    rmSync(f, { force: true });
    if (r.code !== 0) return { error: `exit ${r.code}: ${r.stderr.toString().trim()}` };
    return { bytes: r.stdout };
  }

  async refEncode(text, special) {
    const e = await this.tok.encode(text, null, { addSpecialTokens: special });
    return { ids: e.getIds(), offsets: e.getOffsets() };
  }

  tokensOf(ids) {
    return ids.map((id) => this.tok.idToToken(id));
  }

  // A mismatch record with the tokens around the first differing id.
  mismatch(kind, index, input, expected, actual, note) {
    const m = { kind, index, input, expected, actual };
    if (note) m.note = note;
    if (Array.isArray(actual)) {
      const d = firstDiff(expected, actual);
      m.first_difference = d;
      m.expected_tokens = this.tokensOf(expected.slice(Math.max(0, d - 2), d + 4));
      m.actual_tokens = this.tokensOf(actual.slice(Math.max(0, d - 2), d + 4));
    }
    return m;
  }

  // The strings `active` (indices) joined by the separator, encoded by both.
  async encodeDoc(strings, active, special) {
    const sepBytes = Buffer.from(this.sep, "utf8");
    const sepLen = [...this.sep].length;
    const parts = [];
    const starts = []; // code-point start of each string in the document
    let cp = 0;
    active.forEach((k, i) => {
      if (i > 0) {
        parts.push(sepBytes);
        cp += sepLen;
      }
      starts.push(cp);
      parts.push(strings[k].bytes);
      cp += [...strings[k].text].length;
    });
    const doc = Buffer.concat(parts);
    const ref = await this.refEncode(doc.toString("utf8"), special);
    const got = await this.sutraEncode(doc, special);
    return { ref, got, starts, cp, same: got.ids !== undefined && sameIds(ref.ids, got.ids) };
  }

  // Phase 1 of an encode mode: the whole document (and, with prepend_scheme "first", where
  // only the document's first string starts the input, the first kSolo strings alone).
  async encodeTop(strings, special) {
    const mode = special ? "encode (special)" : "encode (no special)";
    const top = await this.encodeDoc(strings, strings.map((_, i) => i), special);
    const res = { mode, total: strings.length, bad: new Set(), top, complete: top.same };
    this.results.push(res);
    if (this.prependFirst) {
      for (let k = 0; k < Math.min(strings.length, kSolo); ++k) {
        const s = strings[k];
        const r = await this.refEncode(s.text, special);
        const g = await this.sutraEncode(s.bytes, special);
        if (g.ids && sameIds(r.ids, g.ids)) continue;
        this.mismatches.push(this.mismatch(mode, k, show(s), r.ids, g.error || g.ids, "alone"));
        res.bad.add(k);
      }
    }
    return res;
  }

  // Phase 2: the first differing id is mapped to its string (the reference's offsets), that
  // string shown alone (or with its neighbours when it agrees alone), removed, and the
  // document run again, until it agrees, kMaxLocate strings are found or time is up.
  async encodeLocate(strings, res, special, deadline) {
    const sepBytes = Buffer.from(this.sep, "utf8");
    let active = strings.map((_, i) => i).filter((k) => !res.bad.has(k));
    let cur = res.top;
    for (let found = 0; ; ++found) {
      if (cur.same) {
        res.complete = true;
        return;
      }
      if (cur.got.error) {
        this.mismatches.push({ kind: res.mode, input: `the document of ${active.length} strings`, expected: cur.ref.ids, actual: cur.got.error });
        return;
      }
      if (found >= kMaxLocate || Date.now() > deadline) return;
      const { ref, got, starts, cp } = cur;
      const q = Math.min(firstDiff(ref.ids, got.ids), ref.ids.length - 1);
      let off = q >= 0 ? ref.offsets[q][0] : 0;
      if (q > 0 && ref.offsets[q][0] === 0 && ref.offsets[q][1] === 0) off = cp; // an added </s>
      let at = 0;
      while (at + 1 < starts.length && starts[at + 1] <= off) ++at;
      const k = active[at];
      const s = strings[k];
      const alone = await this.refEncode(s.text, special);
      const aloneGot = await this.sutraEncode(s.bytes, special);
      let m;
      if (aloneGot.error || !sameIds(alone.ids, aloneGot.ids)) {
        m = this.mismatch(res.mode, k, show(s), alone.ids, aloneGot.error || aloneGot.ids);
      } else {
        // Agrees alone: show it with its neighbours.
        const ctx = active.slice(Math.max(0, at - 1), Math.min(active.length, at + 2)).map((i) => strings[i]);
        const bytes = Buffer.concat(ctx.flatMap((c, i) => (i ? [sepBytes, c.bytes] : [c.bytes])));
        const r2 = await this.refEncode(bytes.toString("utf8"), special);
        const g2 = await this.sutraEncode(bytes, special);
        const same2 = !g2.error && sameIds(r2.ids, g2.ids);
        m = this.mismatch(res.mode, k, show({ text: bytes.toString("utf8"), bytes, raw: ctx.some((c) => c.raw) }),
          r2.ids, g2.error || g2.ids,
          same2 ? "differs only in the whole document" : `differs only beside its neighbours, joined by ${this.sep}`);
      }
      this.mismatches.push(m);
      res.bad.add(k);
      active = active.filter((i) => i !== k);
      if (active.length === 0) {
        res.complete = true;
        return;
      }
      cur = await this.encodeDoc(strings, active, special);
    }
  }

  // Decoding a list of id sequences joined by the separator's id, by both.
  async decodeDoc(items, skip) {
    const ids = items.flatMap((s, i) => (i ? [this.sepId, ...s.ids] : s.ids));
    const want = Buffer.from(await this.tok.decode(ids, skip), "utf8");
    const got = await this.sutraDecode(ids, skip);
    return { bad: got.error !== undefined || !got.bytes.equals(want), ids, want, got };
  }

  async decodeTop(seqs, skip) {
    const mode = skip ? "decode (skip special)" : "decode (keep special)";
    const top = await this.decodeDoc(seqs, skip);
    const res = { mode, total: seqs.length, badCount: 0, top, complete: !top.bad, decode: true };
    this.results.push(res);
    return res;
  }

  // Phase 2: the sequences joined instead by the ids of a plain marker word, whose text splits
  // both outputs back into one piece per sequence; the sequences whose pieces differ are
  // decoded alone (up to kMaxDecodeLeaves), then the rest joined by the separator again. When
  // the marker does not split the outputs cleanly, or the rest still differs, bisection
  // within the time left.
  async decodeLocate(seqs, res, skip, deadline) {
    const leaves = [];
    const leaf = (item, r, note) => {
      const m = { kind: res.mode, input: `${item.label}: ids ${JSON.stringify(r.ids)}`, tokens: this.tokensOf(r.ids),
        expected: showBytes(r.want), actual: r.got.error || showBytes(r.got.bytes), count: 1 };
      if (note) m.note = note;
      leaves.push(m);
    };
    const badItems = new Set();
    const marker = "QQXMARKXQQ";
    const markerIds = (await this.refEncode(marker, false)).ids;
    const joinedIds = seqs.flatMap((x, i) => (i ? [...markerIds, ...x.ids] : x.ids));
    const want = Buffer.from(await this.tok.decode(joinedIds, skip), "utf8");
    const got = await this.sutraDecode(joinedIds, skip);
    const split = (buf) => {
      const parts = [];
      const mb = Buffer.from(marker);
      let from = 0;
      for (let i = buf.indexOf(mb); i >= 0; i = buf.indexOf(mb, from)) {
        parts.push(buf.subarray(from, i));
        from = i + mb.length;
      }
      parts.push(buf.subarray(from));
      return parts;
    };
    if (got.bytes) {
      const pw = split(want), pg = split(got.bytes);
      if (pw.length === seqs.length && pg.length === seqs.length) {
        for (let k = 0; k < seqs.length && leaves.length < kMaxDecodeLeaves && Date.now() < deadline; ++k) {
          if (pw[k].equals(pg[k])) continue;
          const r = await this.decodeDoc([seqs[k]], skip);
          badItems.add(k);
          if (r.bad) leaf(seqs[k], r);
          else leaf(seqs[k], r, `agrees alone; differs between the ids of "${marker}" in a joined decode`);
        }
      }
    }
    let rest = seqs.filter((_, k) => !badItems.has(k));
    let cut = false;
    const find = async (items, known) => {
      if (!known && (leaves.length >= kMaxDecodeLeaves || Date.now() > deadline)) {
        cut = true;
        return true;
      }
      const r = known || (await this.decodeDoc(items, skip));
      if (!r.bad) return false;
      if (items.length === 1) {
        leaf(items[0], r);
        return true;
      }
      const mid = items.length >> 1;
      const a = await find(items.slice(0, mid));
      const b = await find(items.slice(mid));
      if (!a && !b)
        leaves.push({ kind: res.mode, input: `${items.map((x) => x.label).join(" + ")}, joined by ${this.sep}: ids ${JSON.stringify(r.ids)}`,
          expected: showBytes(r.want), actual: r.got.error || showBytes(r.got.bytes), count: items.length, note: "differs only when joined" });
      return true;
    };
    if (rest.length) await find(rest, badItems.size ? undefined : res.top);
    this.mismatches.push(...leaves);
    res.badCount = leaves.reduce((n, l) => n + l.count, 0);
    res.complete = !cut;
  }

  summary() {
    return this.results.map((r) => {
      const what = r.decode ? "id sequences" : "strings";
      const bad = r.decode ? r.badCount : r.bad.size;
      if (r.complete) return `${r.mode}: ${r.total - bad}/${r.total} ${what} agree`;
      return `${r.mode}: DIFFERS; ${bad} of ${r.total} ${what} located, more differ (localization stopped at its limit or the time budget)`;
    });
  }

  randomIdSequences(seed, n) {
    const rnd = mulberry32(seed);
    const int = (k) => Math.floor(rnd() * k);
    const out = [];
    for (let i = 0; i < n; ++i) {
      const len = 1 + int(24);
      const ids = [];
      for (let j = 0; j < len; ++j) {
        const r = rnd();
        if (r < 0.5) ids.push(int(this.vocab));
        else if (r < 0.8) ids.push(int(Math.min(300, this.vocab))); // specials, bytes, short
        else ids.push(this.vocab - 1 - int(Math.min(120, this.vocab))); // added tokens at the end
      }
      out.push({ label: `random ids #${i}`, ids });
    }
    return out;
  }
}

// A list or text for the console, cut to about `max` entries or characters.
function brief(v, max = 64) {
  if (typeof v === "string") return v.length > 4 * max ? `${v.slice(0, 4 * max)}... (${v.length} characters)` : v;
  const j = JSON.stringify(v.slice(0, max));
  return v.length > max ? `${j.slice(0, -1)},... (${v.length} in all)]` : j;
}

function printReport(checkers, strings, args) {
  let total = 0;
  console.log(`\nseed ${args.seed}, ${strings.length} strings (${strings.filter((s) => s.raw).length} with raw invalid UTF-8)`);
  for (const c of checkers) {
    console.log(`\n${c.name} (separator ${c.sep}, ${c.calls} sutra calls):`);
    for (const line of c.summary()) console.log(`  ${line}`);
    const byKind = new Map();
    for (const m of c.mismatches) {
      const list = byKind.get(m.kind) || [];
      list.push(m);
      byKind.set(m.kind, list);
    }
    for (const [kind, list] of byKind) {
      for (const m of list.slice(0, kShowPerKind)) {
        console.log(`  MISMATCH ${kind}${m.index !== undefined ? ` string #${m.index}` : ""}${m.note ? ` (${m.note})` : ""}`);
        console.log(`    input:    ${brief(m.input)}`);
        if (m.tokens) console.log(`    tokens:   ${brief(m.tokens)}`);
        console.log(`    expected: ${brief(m.expected)}`);
        console.log(`    actual:   ${brief(m.actual)}`);
        if (m.first_difference !== undefined)
          console.log(`    first difference at id ${m.first_difference}: reference ${JSON.stringify(m.expected_tokens)} vs sutra ${JSON.stringify(m.actual_tokens)}`);
      }
      if (list.length > kShowPerKind) console.log(`  ... ${list.length - kShowPerKind} more ${kind} mismatches in the report file`);
    }
    total += c.mismatches.length;
  }
  return total;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const require = createRequire(path.join(path.resolve(args.moduleDir), "package.json"));
  const { Tokenizer } = require("tokenizers");
  mkdirSync(args.work, { recursive: true });
  const strings = makeStrings(args.seed, args.count);
  writeFileSync(path.join(args.work, "strings.jsonl"),
    strings.map((s) => JSON.stringify({ text: s.text, bytes_hex: s.raw ? s.bytes.toString("hex") : undefined })).join("\n") + "\n");
  const checkers = kTokenizers.map((n) => new Checker(args, n, Tokenizer));
  // Phase 1: every tokenizer and mode on the whole set, two tokenizers at a time (two cores).
  const seqsOf = new Map();
  const pending = [];
  const pool = async (tasks) => {
    const queue = [...tasks];
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift()) await t();
    };
    await Promise.all([worker(), worker()]);
  };
  await pool(checkers.map((c) => async () => {
    for (const special of [true, false]) {
      const r = await c.encodeTop(strings, special);
      if (!r.complete) pending.push({ c, r, special });
    }
    const seqs = [];
    for (let k = 0; k < strings.length; ++k)
      seqs.push({ label: `ids of string #${k} ${JSON.stringify(strings[k].text)}`, ids: (await c.refEncode(strings[k].text, true)).ids });
    seqs.push(...c.randomIdSequences(args.seed + 1, 60));
    seqsOf.set(c, seqs);
    for (const skip of [false, true]) {
      const r = await c.decodeTop(seqs, skip);
      if (!r.complete) pending.push({ c, r, skip });
    }
    process.stderr.write(`${c.name}: checked (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  }));
  // Phase 2: locate the mismatches, the time left shared among the modes that differ.
  const end = t0 + args.budget * 1000;
  let left = pending.length;
  await pool(pending.map((p) => async () => {
    const deadline = Date.now() + Math.max(3000, (end - Date.now()) / Math.max(1, Math.ceil(left / 2)));
    --left;
    if (p.special !== undefined) await p.c.encodeLocate(strings, p.r, p.special, deadline);
    else await p.c.decodeLocate(seqsOf.get(p.c), p.r, p.skip, deadline);
  }));
  const total = printReport(checkers, strings, args);
  const reportFile = path.join(args.work, "report.json");
  writeFileSync(reportFile, JSON.stringify(checkers.map((c) => ({ tokenizer: c.name, summary: c.summary(), mismatches: c.mismatches })), null, 1));
  console.log(`\nreport: ${reportFile}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const differing = checkers.flatMap((c) => c.results.filter((r) => !r.complete).map((r) => `${c.name} ${r.mode}`));
  if (total || differing.length) {
    console.log(`FAILED: ${total} mismatches located between sutra tokenize and tokenizers@0.23.2` +
      (differing.length ? `; not all located in: ${differing.join(", ")}` : ""));
    process.exit(1);
  }
  console.log("PASSED: sutra tokenize agrees with tokenizers@0.23.2 on every string and id sequence");
}

main().catch((e) => fail(e.stack || String(e)));
