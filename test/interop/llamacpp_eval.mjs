// Runs GGUF models through llama.cpp itself (npm node-llama-cpp@3.22.1 with its CPU prebuilt
// @node-llama-cpp/linux-x64@3.22.1, llama.cpp v0.5.0) and prints JSON on stdout. Used by
// test/interop/gguf_llamacpp_test.sh and scripts/gguf_table.sh; nothing in it computes a
// forward pass: every logit comes from llama.cpp.
//
// Usage: node llamacpp_eval.mjs --module-dir DIR COMMAND [options]
//   greedy  --model M [--steps N] [--bos ID]
//       Greedy decoding from BOS: feeds BOS, then each argmax of llama.cpp's logits (lowest id
//       on ties), N steps (default 256), one token at a time through the KV cache.
//       -> {"tokens": [bos, t1, ..., tN], "sampler_tokens": [...]}  (sampler_tokens: what
//       llama.cpp's own greedy sampler picked at each step, for a cross-check)
//   eval    --model M [--model M2 ...] [--reference REF] (--tokens FILE | --text FILE)
//           [--seq-len N] [--max-tokens N] [--bos ID] [--dump-logits FILE]
//       The window protocol of sutra's `eval` (shared/text/README.md): the text tokens (no
//       BOS) are cut into chunks of seq_len - 1; each window is BOS + one chunk, and every text
//       token is scored once from BOS and the text before it in its window. Sums in double.
//       --tokens: whitespace-separated ids (e.g. from `sutra tokenize --no-special`), so both
//       tools score identical ids; --text: tokenized by llama.cpp (the first model's vocab).
//       With --reference, each model's mean KL(P_ref || P_model) and top-1 agreement are
//       computed on the same windows, and the reference's perplexity is reported too.
//       --dump-logits: the first model's logits of every scored position, float32 little
//       endian, row-major [tokens, vocab] (the row of text token i predicts token i).
//       -> {"models": [{"model", "perplexity", "mean_nll", "tokens", "windows", ["mean_kl",
//          "top1_agreement"]}], "reference": {...} | null, "seq_len", "tokens", "seconds"}
//   tokenize --model M --text FILE
//       llama.cpp's tokenization of the file (no BOS added, special tokens not parsed).
//       -> {"count", "ids"}
//   speed   --model M (--tokens FILE | --prompt-tokens N) [--gen-tokens M]
//       Prompt-processing and generation speed, as scripts/bench_generate.sh compares it with
//       `sutra bench --generate`: loads M (mmap, llama.cpp's defaults), creates a context of
//       N + M + 1 positions with a batch of N (so the prompt is one llama_decode), runs the
//       first prompt id once and clears the cache (every weight touched: "load_seconds", in
//       neither rate), then times sequence.evaluate (node-llama-cpp's generation loop) on the
//       prompt, greedy (temperature 0), an EOS not stopping it: the prompt batch and the first
//       token's sampling ("prompt"), then M decode steps of one token each through the KV cache,
//       each sampling the next ("generation"). The prompt: the ids of --tokens FILE exactly, or
//       N fixed pseudo-random ids made as `sutra bench --generate` makes them for a model
//       without a tokenizer (SplitMix64, seed 0x5eed0001: the BOS first, then ids that are
//       neither BOS nor EOS). Default M 128. Flash attention is left to node-llama-cpp's
//       default ("auto") and the KV cache to --kv-type (default F16 here: llama.cpp's default).
//       -> {"schema": "sutra.llamacpp.speed/1", "prompt_tokens_per_s", "gen_tokens_per_s",
//          "prompt_seconds", "gen_seconds", "step_ms_median", "load_seconds",
//          "peak_rss_bytes" (the node process's maximum resident set, node itself included),
//          "start_rss_bytes", "file_bytes", "prompt_ids", "generated_ids",
//          "weight_buffers_mib" (llama.cpp's weight buffers by type, e.g. {"CPU_Mapped": ...,
//          "AMX": ...}, from its log), "flash_attention_resolved" (enabled / disabled), ...}
// Common options: --threads N (default 2), --kv-type F32|F16 (KV cache type, default F32 so
// the cache adds no rounding of its own, except for speed; llama.cpp's default is F16).
// Exit status: 0 done, 2 usage or input error (one line on stderr), 3 the prebuilt llama.cpp
// could not be loaded (the callers report that as skipped).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

function fail(code, message) {
    process.stderr.write(`llamacpp_eval: ${message}\n`);
    process.exit(code);
}

function parseArgs(argv) {
    const args = { models: [], command: null };
    const takesValue = new Set(["--module-dir", "--model", "--reference", "--tokens", "--text",
        "--seq-len", "--max-tokens", "--bos", "--steps", "--threads", "--kv-type",
        "--dump-logits", "--prompt-tokens", "--gen-tokens"]);
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (!a.startsWith("--")) {
            if (args.command != null) fail(2, `unexpected argument '${a}'`);
            args.command = a;
            continue;
        }
        if (!takesValue.has(a)) fail(2, `unknown option '${a}'`);
        if (i + 1 >= argv.length) fail(2, `option ${a} needs a value`);
        const v = argv[++i];
        if (a === "--model") args.models.push(v);
        else args[a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = v;
    }
    return args;
}

function intOption(args, name, fallback, min) {
    if (args[name] == null) return fallback;
    const v = Number(args[name]);
    if (!Number.isInteger(v) || v < min) fail(2, `--${name} must be an integer >= ${min}, got '${args[name]}'`);
    return v;
}

const args = parseArgs(process.argv.slice(2));
if (!args.moduleDir) fail(2, "--module-dir DIR (where node-llama-cpp is installed) is required");
if (!["greedy", "eval", "tokenize", "speed"].includes(args.command ?? ""))
    fail(2, "the command must be one of greedy, eval, tokenize, speed");
if (args.models.length === 0) fail(2, "--model FILE.gguf is required");
for (const m of [...args.models, ...(args.reference ? [args.reference] : [])])
    if (!fs.existsSync(m)) fail(2, `model ${m} does not exist`);
const threads = intOption(args, "threads", 2, 1);
const kvType = args.kvType ?? (args.command === "speed" ? "F16" : "F32");
if (!["F32", "F16"].includes(kvType)) fail(2, `--kv-type must be F32 or F16, got '${kvType}'`);

let nlc;
try {
    const require = createRequire(path.join(path.resolve(args.moduleDir), "package.json"));
    nlc = await import(pathToFileURL(require.resolve("node-llama-cpp")).href);
} catch (e) {
    fail(3, `cannot import node-llama-cpp from ${args.moduleDir}: ${e.message}`);
}
// speed records llama.cpp's informational log (its weight buffers, whether flash attention was
// enabled) for its report; every command prints only llama.cpp's errors.
const llamaLog = [];
const logOptions = args.command !== "speed" ? { logLevel: nlc.LlamaLogLevel.error } : {
    logLevel: nlc.LlamaLogLevel.info,
    logger: (level, message) => {
        llamaLog.push(message);
        if (level === nlc.LlamaLogLevel.error || level === nlc.LlamaLogLevel.fatal)
            process.stderr.write(message.endsWith("\n") ? message : message + "\n");
    },
};
let llama;
try {
    llama = await nlc.getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true,
        skipDownload: true, progressLogs: false, ...logOptions, maxThreads: threads });
} catch (e) {
    fail(3, `the prebuilt llama.cpp did not load (getLlama({gpu: false, build: "never"})): ${e.message}`);
}

async function openModel(file, contextSize) {
    let model;
    try {
        model = await llama.loadModel({ modelPath: path.resolve(file), gpuLayers: 0 });
    } catch (e) {
        fail(2, `llama.cpp could not load ${file}: ${e.message}`);
    }
    const context = await model.createContext({ contextSize, batchSize: contextSize,
        sequences: 1, threads, flashAttention: false,
        experimentalKvCacheKeyType: kvType, experimentalKvCacheValueType: kvType });
    const sequence = context.getSequence();
    return { file, model, context, sequence };
}

// Raw logits (temperature 0 selects llama.cpp's greedy sampler, which leaves them untouched);
// `token` also asks for the sampler's own pick (greedy's cross-check).
const wantLogits = { generateNext: { logits: true, options: { temperature: 0 } } };
const wantLogitsAndToken = { generateNext: { logits: true, token: true, options: { temperature: 0 } } };

// Dense Float64Array of the vocabulary's logits from node-llama-cpp's Map (sorted by value).
function denseLogits(map, vocab) {
    const out = new Float64Array(vocab).fill(-Infinity);
    for (const [t, v] of map) {
        if (t < 0 || t >= vocab) fail(2, `llama.cpp returned a logit for token ${t} outside the vocabulary of ${vocab}`);
        out[t] = v;
    }
    for (let i = 0; i < vocab; i++)
        if (out[i] === -Infinity) fail(2, `llama.cpp returned no logit for token ${i}`);
    return out;
}

function argmax(x) {
    let best = 0;
    for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
    return best;  // lowest id on ties
}

function logSoftmax(x) {
    let m = -Infinity;
    for (const v of x) if (v > m) m = v;
    let s = 0;
    for (const v of x) s += Math.exp(v - m);
    const lse = m + Math.log(s);
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] - lse;
    return out;
}

// The vocabulary size: the width of the logits row llama.cpp returns after BOS.
async function vocabSize(m, bos) {
    await m.sequence.clearHistory();
    const [r] = await m.sequence.controlledEvaluate([[bos, wantLogits]]);
    if (r?.next?.logits == null) fail(2, `llama.cpp returned no logits for ${m.file}`);
    return r.next.logits.size;
}

// Logits (dense, vocab wide) at every position of `window` but the last.
async function windowLogits(m, window, vocab) {
    await m.sequence.clearHistory();
    const input = window.map((t, i) => (i + 1 < window.length ? [t, wantLogits] : t));
    const res = await m.sequence.controlledEvaluate(input);
    const rows = [];
    for (let i = 0; i + 1 < window.length; i++) {
        const r = res[i];
        if (r?.next?.logits == null) fail(2, `llama.cpp returned no logits at position ${i} of ${m.file}`);
        rows.push(denseLogits(r.next.logits, vocab));
    }
    return rows;
}

function readTokens(file) {
    const text = fs.readFileSync(file, "utf8").trim();
    if (text === "") fail(2, `${file} holds no token ids`);
    return text.split(/\s+/).map((s, i) => {
        const v = Number(s);
        if (!Number.isInteger(v) || v < 0) fail(2, `${file}: token ${i} ('${s}') is not a non-negative integer id`);
        return v;
    });
}

// `sutra bench --generate`'s prompt for a model without a tokenizer
// (pipeline/bench_generate.cpp random_prompt): n ids in [0, vocab), the BOS first where there
// is one, then SplitMix64 (seed 0x5eed0001) ids modulo vocab that are neither BOS nor EOS.
function randomPrompt(n, vocab, bos, eos) {
    const mask = (1n << 64n) - 1n;
    let state = 0x5eed0001n;
    const next = () => {
        state = (state + 0x9E3779B97F4A7C15n) & mask;
        let z = state;
        z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & mask;
        z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & mask;
        return z ^ (z >> 31n);
    };
    const ids = bos != null && bos >= 0 ? [bos] : [];
    const special = (id) => id === bos || id === eos;
    while (ids.length < n) {
        const id = Number(next() % BigInt(vocab));
        if (!special(id) || vocab <= 2) ids.push(id);
    }
    return ids.slice(0, n);
}

function median(xs) {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const secondsSince = (t) => Number(process.hrtime.bigint() - t) / 1e9;

async function speed() {
    const file = args.models[0];
    if (args.models.length !== 1) fail(2, "speed takes one --model");
    if (args.tokens && args.promptTokens != null)
        fail(2, "give the prompt as --tokens FILE or --prompt-tokens N, not both");
    if (!args.tokens && args.promptTokens == null) fail(2, "speed needs --tokens FILE or --prompt-tokens N");
    const genTokens = intOption(args, "genTokens", 128, 1);
    const startRss = process.memoryUsage().rss;
    const tLoad = process.hrtime.bigint();
    let model;
    try {
        model = await llama.loadModel({ modelPath: path.resolve(file), gpuLayers: 0 });
    } catch (e) {
        fail(2, `llama.cpp could not load ${file}: ${e.message}`);
    }
    const vocab = model.fileInfo?.metadata?.tokenizer?.ggml?.tokens?.length;
    let prompt;
    if (args.tokens) {
        prompt = readTokens(args.tokens);
    } else {
        const n = intOption(args, "promptTokens", 1, 1);
        if (!vocab) fail(2, `${file}: no tokenizer.ggml.tokens, so the vocabulary size is unknown; give --tokens FILE`);
        prompt = randomPrompt(n, vocab, model.tokens.bos ?? -1, model.tokens.eos ?? -1);
    }
    if (vocab) for (const [i, t] of prompt.entries())
        if (t >= vocab) fail(2, `prompt token ${i} (id ${t}) is outside the vocabulary of ${vocab}`);
    const contextSize = prompt.length + genTokens + 1;
    const context = await model.createContext({ contextSize, batchSize: prompt.length,
        sequences: 1, threads, experimentalKvCacheKeyType: kvType,
        experimentalKvCacheValueType: kvType });
    const sequence = context.getSequence();
    // Every weight touched once (mmap pages faulted in), as sutra's runs load theirs.
    await sequence.controlledEvaluate([[prompt[0], { generateNext: { token: true } }]]);
    await sequence.clearHistory();
    const loadSeconds = secondsSince(tLoad);

    // The prompt in one batch, then one decode per generated token: the first yield comes after
    // the prompt batch (and the sampling of its next token), each later one after a decode.
    const generated = [], steps = [];
    let promptSeconds = 0;
    let t = process.hrtime.bigint();
    const tPrompt = t;
    for await (const token of sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
        const now = process.hrtime.bigint();
        if (generated.length === 0) promptSeconds = Number(now - tPrompt) / 1e9;
        else steps.push(Number(now - t) / 1e9);
        t = now;
        generated.push(token);
        if (generated.length > genTokens) break;  // the first + genTokens decode steps
    }
    if (steps.length !== genTokens)
        fail(2, `llama.cpp stopped after ${steps.length} of ${genTokens} decode steps`);
    const genSeconds = steps.reduce((a, b) => a + b, 0);
    // From llama.cpp's log: "load_tensors: AMX model buffer size = 571.02 MiB" lines, and
    // "Flash Attention enabled" / "disabled" (what "auto" resolved to).
    const buffers = {};
    let flashResolved = null;
    for (const line of llamaLog.join("").split("\n")) {
        const b = line.match(/load_tensors:\s+(\S+) model buffer size =\s+([0-9.]+) MiB/);
        if (b) buffers[b[1]] = Number(b[2]);
        const f = line.match(/Flash Attention (enabled|disabled)/i);
        if (f) flashResolved = f[1].toLowerCase();
    }
    const peakRss = process.resourceUsage().maxRSS * 1024;
    process.stdout.write(JSON.stringify({
        schema: "sutra.llamacpp.speed/1",
        llama_cpp: "node-llama-cpp@3.22.1 (llama.cpp v0.5.0, CPU prebuilt)",
        model: file, file_bytes: fs.statSync(file).size, threads, kv_type: kvType,
        flash_attention: String(context.flashAttention), flash_attention_resolved: flashResolved,
        weight_buffers_mib: buffers, batch_size: context.batchSize,
        context_size: context.contextSize, mmap: true, sampling: "greedy", stop_at_eos: false,
        prompt_source: args.tokens ? `ids from ${args.tokens}` : "random (SplitMix64, seed 0x5eed0001)",
        prompt_tokens: prompt.length, gen_tokens: genTokens,
        load_seconds: loadSeconds, prompt_seconds: promptSeconds,
        prompt_tokens_per_s: prompt.length / promptSeconds,
        gen_seconds: genSeconds, gen_tokens_per_s: genTokens / genSeconds,
        step_ms_median: 1e3 * median(steps),
        peak_rss_bytes: peakRss, start_rss_bytes: startRss,
        prompt_ids: prompt, generated_ids: generated.slice(0, genTokens),
    }) + "\n");
    await context.dispose();
    await model.dispose();
}

const started = Date.now();
if (args.command === "tokenize") {
    if (!args.text) fail(2, "tokenize needs --text FILE");
    const m = await llama.loadModel({ modelPath: path.resolve(args.models[0]), gpuLayers: 0, vocabOnly: true });
    const ids = m.tokenize(fs.readFileSync(args.text, "utf8"), false);
    process.stdout.write(JSON.stringify({ count: ids.length, ids: Array.from(ids) }) + "\n");
} else if (args.command === "speed") {
    await speed();
} else if (args.command === "greedy") {
    const steps = intOption(args, "steps", 256, 1);
    const m = await openModel(args.models[0], steps + 1);
    const bos = intOption(args, "bos", m.model.tokens.bos ?? 1, 0);
    const tokens = [bos], samplerTokens = [];
    const vocab = await vocabSize(m, bos);
    await m.sequence.clearHistory();
    for (let step = 0; step < steps; step++) {
        const [r] = await m.sequence.controlledEvaluate([[tokens[tokens.length - 1], wantLogitsAndToken]]);
        if (r?.next?.logits == null) fail(2, `llama.cpp returned no logits at step ${step}`);
        tokens.push(argmax(denseLogits(r.next.logits, vocab)));
        samplerTokens.push(r.next.token);
    }
    process.stdout.write(JSON.stringify({ model: args.models[0], tokens, sampler_tokens: samplerTokens,
        seconds: (Date.now() - started) / 1000 }) + "\n");
} else {
    const seqLen = intOption(args, "seqLen", 256, 2);
    const maxTokens = intOption(args, "maxTokens", 0, 0);
    const models = [];
    for (const f of args.models) models.push(await openModel(f, seqLen));
    const ref = args.reference ? await openModel(args.reference, seqLen) : null;
    let text;
    if (args.tokens) text = readTokens(args.tokens);
    else if (args.text) text = Array.from(models[0].model.tokenize(fs.readFileSync(args.text, "utf8"), false));
    else fail(2, "eval needs --tokens FILE or --text FILE");
    if (maxTokens > 0) text = text.slice(0, maxTokens);
    const bos = intOption(args, "bos", models[0].model.tokens.bos ?? 1, 0);
    const dump = args.dumpLogits ? fs.openSync(args.dumpLogits, "w") : null;
    const stats = models.map(() => ({ nll: 0, kl: 0, agree: 0 }));
    const refStats = { nll: 0 };
    const vocab = await vocabSize(models[0], bos);
    for (const m of [...models.slice(1), ...(ref ? [ref] : [])]) {
        const v = await vocabSize(m, bos);
        if (v !== vocab) fail(2, `${m.file} has a vocabulary of ${v}, ${models[0].file} of ${vocab}`);
    }
    let scored = 0, windows = 0;
    for (let start = 0; start < text.length; start += seqLen - 1) {
        const chunk = text.slice(start, start + seqLen - 1);
        const window = [bos, ...chunk];
        // All models evaluate the window at once (separate contexts; llama.cpp runs them on
        // node's worker threads), which hides most of the per-position round trips.
        const all = await Promise.all([...(ref ? [ref] : []), ...models].map((m) => windowLogits(m, window, vocab)));
        let refRows = null, refProbs = null;
        if (ref) {
            refRows = all.shift().map(logSoftmax);
            refProbs = refRows.map((r) => r.map(Math.exp));
        }
        for (let k = 0; k < models.length; k++) {
            const rows = all[k];
            for (let i = 0; i < rows.length; i++) {
                const target = window[i + 1];
                if (target >= vocab) fail(2, `token ${start + i} (id ${target}) is outside the vocabulary of ${vocab}`);
                const lp = logSoftmax(rows[i]);
                stats[k].nll -= lp[target];
                if (dump && k === 0) {
                    const f32 = Float32Array.from(rows[i]);
                    fs.writeSync(dump, Buffer.from(f32.buffer));
                }
                if (refRows) {
                    const rp = refRows[i], pp = refProbs[i];
                    let kl = 0;
                    for (let j = 0; j < vocab; j++) kl += pp[j] * (rp[j] - lp[j]);
                    stats[k].kl += kl;
                    if (argmax(rp) === argmax(lp)) stats[k].agree += 1;
                    if (k === 0) refStats.nll -= rp[target];
                }
            }
        }
        scored += chunk.length;
        windows += 1;
    }
    if (dump) fs.closeSync(dump);
    const summary = (file, nll) => ({ model: file, perplexity: Math.exp(nll / scored),
        mean_nll: nll / scored, tokens: scored, windows });
    const out = {
        llama_cpp: "node-llama-cpp@3.22.1 (llama.cpp v0.5.0, CPU prebuilt)",
        seq_len: seqLen, tokens: scored, windows, vocab, kv_type: kvType,
        token_source: args.tokens ? `ids from ${args.tokens}` : `llama.cpp tokenization of ${args.text}`,
        reference: ref ? summary(ref.file, refStats.nll) : null,
        models: models.map((m, k) => ({ ...summary(m.file, stats[k].nll),
            ...(ref ? { mean_kl: stats[k].kl / scored, top1_agreement: stats[k].agree / scored } : {}) })),
        seconds: (Date.now() - started) / 1000,
    };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
}
await llama.dispose();
