// Regenerates reference.json: what the Hugging Face `tokenizers` crate 0.23.2 (its official
// Node binding, npm `tokenizers@0.23.2`) gives for a set of normalizers and pre-tokenizers on a
// set of texts. normalizer_test.cpp and pre_tokenizer_test.cpp compare sutra against it.
//
//   cd /tmp && npm i tokenizers@0.23.2
//   NODE_PATH=/tmp/node_modules node make_reference.js ../../../../../shared/tokenizers
//
// Each case's outputs follow `texts` from index first_text (0 when absent): the normalized
// text (absent when unchanged) and the pieces' strings.
//
// The argument is the folder of real tokenizers (shared/tokenizers); components marked
// "shared" are read from there, the others are written inline below.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const shared = process.argv[2];
if (!shared) throw new Error('usage: node make_reference.js SHARED_TOKENIZERS_DIR');

const texts = [];
for (const t of JSON.parse(fs.readFileSync(path.join(shared, 'text', 'cases.json'), 'utf8')))
  texts.push(t);
const stress = fs.readFileSync(path.join(shared, 'text', 'stress.txt'), 'utf8');
texts.push(stress);
const firstExtra = texts.length;  // the texts below are short, written for these cases
texts.push(
  'the-final--countdown', 'Hey friend!', 'Hey   friend!', 'How are you doing?', ' Hey <s>how',
  'Hey my friend <s>how\u2581are you', 'a.b.c', '(a)(b)', 'x-~#&y', 'xxaxx', 'axbxxc', 'aaa',
  '\uff26\uff55\uff4c\uff4c\u3000\uff37\uff49\uff44\uff54\uff48', 'a\u00a0b\u00a0\u00a0c',
  '\u03a3\u0391\u03a3 \u039f\u0394\u039f\u03a3', '\u0130stanbul \u0049\u0307', 'e\u0304\u0304\u0304o',
  'Me llam\u00f3', '\u1ead\u2026', '\u0e33\u0e19\u0e49\u0e33\u0033\u0e25\u0e33', '\u2460\u2461 \u00bd \u2163',
  '\u1100\u1161\u11a8 \uac01', 'a\u200db \u200c', '\t\u000b\u000c\r\u0085\u2028\u2029\u3000\u180e\u200b\ufeff',
  '\u0000x\u0001y\u007f\u008fz\ufffd', 'A\u030a\u0301\u0323 \u212b', 'ﬀ ﬁ ﬂ ﬃ', '\ud835\udd18\ud835\udd1e',
  '  Hello  ', '\n\n  x  \n', 'Hello   world  !', '1 22 333 4444 ١٢٣ ⅷ', 'don\u2019t it\u2019s', '𝔾𝕠𝕠𝕕 𝕞𝕠𝕣𝕟𝕚𝕟𝕘',
  'i\u2b62j', '\u00e9\u0065\u0301 \u1e9b\u0323', '\u05d0\u05b8 \u0627\u064b', 'a_b c__d 3_4',
  '\u3069\u3053\u3067\u751f\u308c\u3002Yes', 'Apples are \u308a\u3093\u3054 \u6797\u6a8e',
  '  lead \u0391\u03b2 x\u0301\u0410 \u30b0\u30fc1');

const sharedComponent = (name, field) => ({ shared: name, field });
const cases = [
  // The real files.
  { name: 'gpt2.pre_tokenizer', pre_tokenizer: sharedComponent('gpt2', 'pre_tokenizer') },
  { name: 'qwen3.normalizer', normalizer: sharedComponent('qwen3', 'normalizer') },
  { name: 'qwen3.pipeline', normalizer: sharedComponent('qwen3', 'normalizer'),
    pre_tokenizer: sharedComponent('qwen3', 'pre_tokenizer') },
  { name: 'gpt-neox-20b.pipeline', normalizer: sharedComponent('gpt-neox-20b', 'normalizer'),
    pre_tokenizer: sharedComponent('gpt-neox-20b', 'pre_tokenizer') },
  { name: 'mistral.pre_tokenizer', pre_tokenizer: sharedComponent('mistral-7b-v0.1', 'pre_tokenizer') },
  { name: 'mistral-legacy.normalizer', normalizer: sharedComponent('mistral-7b-v0.1-legacy', 'normalizer') },
  { name: 'flan-t5.normalizer', normalizer: sharedComponent('flan-t5-large', 'normalizer') },
  { name: 'flan-t5.pipeline', normalizer: sharedComponent('flan-t5-large', 'normalizer'),
    pre_tokenizer: sharedComponent('flan-t5-large', 'pre_tokenizer') },
  { name: 'flan-t5.precompiled', normalizer: { shared: 'flan-t5-large', field: 'normalizer', index: 0 } },
  // Pre-tokenizers.
  { name: 'ByteLevel prefix', pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true } },
  { name: 'ByteLevel prefix no regex', pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: false } },
  { name: 'Metaspace always', pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true } },
  { name: 'Metaspace always nosplit', pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: false } },
  { name: 'Metaspace never', pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'never', split: true } },
  { name: 'Metaspace first', pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: true } },
  { name: 'Metaspace legacy', pre_tokenizer: { type: 'Metaspace', replacement: '_', add_prefix_space: true } },
  { name: 'Metaspace legacy false', pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', add_prefix_space: false } },
  { name: 'Metaspace legacy never', pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', add_prefix_space: false, prepend_scheme: 'never' } },
  { name: 'Whitespace', pre_tokenizer: { type: 'Whitespace' } },
  { name: 'WhitespaceSplit', pre_tokenizer: { type: 'WhitespaceSplit' } },
  { name: 'Punctuation', pre_tokenizer: { type: 'Punctuation' } },
  { name: 'Punctuation Removed', pre_tokenizer: { type: 'Punctuation', behavior: 'Removed' } },
  { name: 'Punctuation Contiguous', pre_tokenizer: { type: 'Punctuation', behavior: 'Contiguous' } },
  { name: 'Digits', pre_tokenizer: { type: 'Digits', individual_digits: false } },
  { name: 'Digits individual', pre_tokenizer: { type: 'Digits', individual_digits: true } },
  { name: 'BertPreTokenizer', pre_tokenizer: { type: 'BertPreTokenizer' } },
  { name: 'UnicodeScripts', pre_tokenizer: { type: 'UnicodeScripts' } },
  { name: 'WhitespaceSplit+Metaspace', pre_tokenizer: { type: 'Sequence', pretokenizers: [
    { type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true }] } },
  { name: 'Digits+Punctuation+ByteLevel', pre_tokenizer: { type: 'Sequence', pretokenizers: [
    { type: 'Digits', individual_digits: true }, { type: 'Punctuation', behavior: 'Isolated' },
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }] } },
];
for (const b of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
  cases.push({ name: 'Split - ' + b, pre_tokenizer: { type: 'Split', pattern: { String: '-' }, behavior: b, invert: false } });
  cases.push({ name: 'Split words inverted ' + b, pre_tokenizer: { type: 'Split', pattern: { Regex: '\\w+|[^\\w\\s]+' }, behavior: b, invert: true } });
  cases.push({ name: 'Split x* ' + b, extra: true, pre_tokenizer: { type: 'Split', pattern: { Regex: 'x*' }, behavior: b, invert: false } });
}
cases.push(
  { name: 'Split . literal', pre_tokenizer: { type: 'Split', pattern: { String: '.' }, behavior: 'Isolated', invert: false } },
  { name: 'Split -~#& literal', pre_tokenizer: { type: 'Split', pattern: { String: '-~#&' }, behavior: 'Isolated', invert: false } },
  { name: 'Split )( literal', pre_tokenizer: { type: 'Split', pattern: { String: ')(' }, behavior: 'Removed', invert: false } },
  { name: 'Split empty string', extra: true, pre_tokenizer: { type: 'Split', pattern: { String: '' }, behavior: 'Isolated', invert: false } },
  { name: 'Split lookahead', extra: true, pre_tokenizer: { type: 'Split', pattern: { Regex: '(?=a)|\\b' }, behavior: 'Isolated', invert: false } },
  { name: 'Split \\s+ Removed', pre_tokenizer: { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Removed', invert: false } },
  { name: 'Split x|(?=b) MergedWithNext', pre_tokenizer: { type: 'Split', pattern: { Regex: 'x|(?=b)' }, behavior: 'MergedWithNext', invert: false } });
// Normalizers.
cases.push(
  { name: 'NFC', normalizer: { type: 'NFC' } },
  { name: 'NFD', normalizer: { type: 'NFD' } },
  { name: 'NFKC', normalizer: { type: 'NFKC' } },
  { name: 'NFKD', normalizer: { type: 'NFKD' } },
  { name: 'Lowercase', normalizer: { type: 'Lowercase' } },
  { name: 'Strip', normalizer: { type: 'Strip', strip_left: true, strip_right: true } },
  { name: 'Strip left', normalizer: { type: 'Strip', strip_left: true, strip_right: false } },
  { name: 'Strip right', normalizer: { type: 'Strip', strip_left: false, strip_right: true } },
  { name: 'StripAccents', normalizer: { type: 'StripAccents' } },
  { name: 'NFKD+StripAccents+Lowercase', normalizer: { type: 'Sequence', normalizers: [
    { type: 'NFKD' }, { type: 'StripAccents' }, { type: 'Lowercase' }] } },
  { name: 'Prepend', normalizer: { type: 'Prepend', prepend: '\u2581' } },
  { name: 'Replace string', normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' } },
  { name: 'Replace string special', normalizer: { type: 'Replace', pattern: { String: '.' }, content: '[dot]' } },
  { name: 'Replace regex', normalizer: { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' } },
  { name: 'Replace x*', extra: true, normalizer: { type: 'Replace', pattern: { Regex: 'x*' }, content: '-' } },
  { name: 'Replace empty string', extra: true, normalizer: { type: 'Replace', pattern: { String: '' }, content: '-' } },
  { name: 'Nmt', normalizer: { type: 'Nmt' } },
  { name: 'BertNormalizer', normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true } },
  { name: 'BertNormalizer cased', normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: true, lowercase: false } },
  { name: 'ByteLevel normalizer', normalizer: { type: 'ByteLevel' } });

function resolve(c) {
  if (c === undefined || c === null) return null;
  if (!c.shared) return c;
  const j = JSON.parse(fs.readFileSync(path.join(shared, c.shared, 'tokenizer.json'), 'utf8'));
  const v = j[c.field];
  return c.index === undefined ? v : v.normalizers[c.index];
}

function build(normalizer, preTokenizer) {
  return Tokenizer.fromString(JSON.stringify({
    version: '1.0', truncation: null, padding: null, added_tokens: [],
    normalizer, pre_tokenizer: preTokenizer, post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab: { '[UNK]': 0 }, unk_token: '[UNK]' },
  }));
}

const out = { reference: 'tokenizers@0.23.2 (npm, the official Node binding of the Rust crate)',
              generator: 'test/unit/tokenize/reference/make_reference.js', texts, cases: [] };
for (const c of cases) {
  const normalizer = resolve(c.normalizer);
  const preTokenizer = resolve(c.pre_tokenizer);
  const entry = { name: c.name };
  if (c.extra) entry.first_text = firstExtra;
  if (c.normalizer) entry.normalizer = c.normalizer;
  if (c.pre_tokenizer) entry.pre_tokenizer = c.pre_tokenizer;
  let tok;
  try {
    tok = build(normalizer, preTokenizer);
  } catch (e) {
    entry.error = String(e.message || e);
    out.cases.push(entry);
    continue;
  }
  const n = tok.getNormalizer();
  const p = tok.getPreTokenizer();
  entry.outputs = texts.slice(c.extra ? firstExtra : 0).map((t) => {
    const normalized = n ? n.normalizeString(t) : t;
    const o = {};
    if (n && normalized !== t) o.normalized = normalized;  // absent: unchanged
    if (p) o.pieces = p.preTokenizeString(normalized).map((x) => x[0]);
    return o;
  });
  out.cases.push(entry);
}
fs.writeFileSync(path.join(__dirname, 'reference.json'), JSON.stringify(out, null, 0) + '\n');
console.log(`${out.cases.length} cases x ${texts.length} texts`);
