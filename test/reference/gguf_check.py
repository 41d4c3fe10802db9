#!/usr/bin/env python3
"""Independent check of a GGUF file written by `sutra export --format gguf`.

Written from the GGUF specification (ggml docs/gguf.md) and llama.cpp's converter
conventions, not from sutra's code: it parses the file itself (numpy only), then checks
  - the container: magic, version 3, 32-byte alignment, tensor offsets aligned, in order,
    not overlapping, and the file long enough;
  - the metadata: general.architecture and the {arch}.* hyper-parameters against config.json,
    the tokenizer arrays (one entry per id of vocab_size, token types 1..6);
  - the tensors: the llama.cpp name of every Hugging Face tensor of the dequantized
    checkpoint, the dims (reversed shape), 1-D tensors F32, and the values: equal to the
    dequantized checkpoint (the .qbin's weights as `sutra dequantize` gives them), with the
    q/k rows permuted for the llama architecture as convert_hf_to_gguf.py's
    LlamaModel.permute defines it (reshape(n_head, 2, d/2, ...).swapaxes(1, 2)); exactly for
    F32, as float16 for F16, within half a quantization step (plus the f16 rounding of the scale) for Q8_0 (decoded here from the
    block layout: an f16 scale, then 32 int8 codes).

Usage: gguf_check.py FILE.gguf DEQUANTIZED.safetensors config.json TYPE
  TYPE: F32, F16 or Q8_0 (the --gguf-type of the export). Exit 0 when every check passes.
"""
import json
import struct
import sys

import numpy as np

GGUF_TYPES = {0: "u8", 1: "i8", 2: "u16", 3: "i16", 4: "u32", 5: "i32", 6: "f32", 7: "bool",
              8: "string", 9: "array", 10: "u64", 11: "i64", 12: "f64"}
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q",
          11: "<q", 12: "<d"}
GGML = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 8: ("Q8_0", 32, 34)}

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.d[self.p:self.p + n]
        self.p += n
        return s.decode("utf-8")

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et = self.take("<I")
            n = self.take("<Q")
            return [self.value(et) for _ in range(n)]
        return self.take(SCALAR[t])


def parse(path):
    data = open(path, "rb").read()
    r = Reader(data)
    check(data[:4] == b"GGUF", "magic")
    r.p = 4
    version = r.take("<I")
    check(version == 3, f"version {version}")
    n_t, n_kv = r.take("<Q"), r.take("<Q")
    kv, types = {}, {}
    for _ in range(n_kv):
        k = r.string()
        t = r.take("<I")
        kv[k] = r.value(t)
        types[k] = GGUF_TYPES[t]
        if t == 9:
            types[k] = "array"
    tensors = []
    for _ in range(n_t):
        name = r.string()
        nd = r.take("<I")
        dims = [r.take("<Q") for _ in range(nd)]
        ty = r.take("<I")
        off = r.take("<Q")
        tensors.append((name, dims, ty, off))
    align = kv.get("general.alignment", 32)
    check(align == 32, f"alignment {align}")
    start = (r.p + align - 1) // align * align
    return data, kv, types, tensors, start


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack_from("<Q", data, 0)[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        check(e["dtype"] == "F32", f"{name}: dequantized dtype {e['dtype']} (expected F32)")
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b:8 + n + end], dtype="<f4").reshape(e["shape"])
    return out


def gguf_name(hf):
    top = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight":
           "output_norm.weight", "lm_head.weight": "output.weight"}
    if hf in top:
        return top[hf]
    parts = hf.split(".")
    assert parts[0] == "model" and parts[1] == "layers", hf
    block, rest = parts[2], ".".join(parts[3:])
    table = {
        "input_layernorm.weight": "attn_norm.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight", "self_attn.q_proj.bias": "attn_q.bias",
        "self_attn.k_proj.weight": "attn_k.weight", "self_attn.k_proj.bias": "attn_k.bias",
        "self_attn.v_proj.weight": "attn_v.weight", "self_attn.v_proj.bias": "attn_v.bias",
        "self_attn.o_proj.weight": "attn_output.weight",
        "self_attn.o_proj.bias": "attn_output.bias",
        "self_attn.q_norm.weight": "attn_q_norm.weight",
        "self_attn.k_norm.weight": "attn_k_norm.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.down_proj.weight": "ffn_down.weight",
    }
    return f"blk.{block}.{table[rest]}"


def permute(w, n_head):
    # convert_hf_to_gguf.py LlamaModel.permute
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def decode_q8_0(raw, n):
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 34)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)
    q = blocks[:, 2:].copy().view(np.int8).astype(np.float32)
    return (q * d).reshape(-1)[:n], np.repeat(d.reshape(-1), 32)[:n]


def main():
    gguf_path, st_path, config_path, want_type = sys.argv[1:5]
    cfg = json.load(open(config_path))
    data, kv, types, tensors, start = parse(gguf_path)
    mt = cfg["model_type"]
    arch = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3"}[mt]
    check(kv.get("general.architecture") == arch, f"architecture {kv.get('general.architecture')}")
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_head)
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // n_head
    expect = {
        "block_count": cfg["num_hidden_layers"], "embedding_length": cfg["hidden_size"],
        "feed_forward_length": cfg["intermediate_size"], "attention.head_count": n_head,
        "attention.head_count_kv": n_kv, "rope.dimension_count": head_dim,
        "attention.key_length": head_dim, "attention.value_length": head_dim,
    }
    if "max_position_embeddings" in cfg:
        expect["context_length"] = cfg["max_position_embeddings"]
    for k, v in expect.items():
        got = kv.get(f"{arch}.{k}")
        check(got == v, f"{arch}.{k} = {got}, config.json says {v}")
        check(types.get(f"{arch}.{k}") == "u32", f"{arch}.{k} type {types.get(f'{arch}.{k}')}")
    eps = kv.get(f"{arch}.attention.layer_norm_rms_epsilon")
    check(eps is not None and abs(eps - cfg.get("rms_norm_eps", 1e-6)) <= 1e-6 * abs(eps) + 1e-12,
          f"rms eps {eps}")
    theta = kv.get(f"{arch}.rope.freq_base")
    check(theta == np.float32(cfg.get("rope_theta", 10000.0)), f"rope theta {theta}")
    check(kv.get("general.quantization_version") == 2, "quantization_version")
    toks = kv.get("tokenizer.ggml.tokens", [])
    check(len(toks) == cfg["vocab_size"], f"{len(toks)} tokens for vocab_size {cfg['vocab_size']}")
    tt = kv.get("tokenizer.ggml.token_type", [])
    check(len(tt) == len(toks) and all(1 <= t <= 6 for t in tt), "token types")
    model = kv.get("tokenizer.ggml.model")
    check(model in ("llama", "gpt2"), f"tokenizer model {model}")
    if model == "llama":
        check(len(kv.get("tokenizer.ggml.scores", [])) == len(toks), "scores")
    else:
        check(len(kv.get("tokenizer.ggml.merges", [])) > 0, "merges")

    # Container: offsets aligned, increasing, padded, inside the file.
    pos = 0
    info = {}
    for name, dims, ty, off in tensors:
        check(ty in GGML, f"{name}: ggml type {ty}")
        tname, blk, bsz = GGML.get(ty, ("?", 1, 4))
        n = int(np.prod(dims))
        nbytes = n // blk * bsz
        check(off == pos, f"{name}: offset {off}, expected {pos}")
        check(off % 32 == 0, f"{name}: offset {off} not aligned")
        pos = (off + nbytes + 31) // 32 * 32
        info[name] = (dims, tname, data[start + off:start + off + nbytes])
    check(len(data) >= start + pos, f"file {len(data)} bytes, data needs {start + pos}")

    src = read_safetensors(st_path)
    tied = cfg.get("tie_word_embeddings", False)
    expected_names = set()
    for hf, w in src.items():
        if hf.endswith("rotary_emb.inv_freq") or (hf == "lm_head.weight" and tied):
            continue
        gn = gguf_name(hf)
        expected_names.add(gn)
        if gn not in info:
            check(False, f"{hf}: no tensor {gn}")
            continue
        dims, tname, raw = info[gn]
        check(dims == list(reversed(w.shape)), f"{gn}: dims {dims}, shape {list(w.shape)}")
        ref = w
        if arch == "llama" and (".q_proj." in hf or ".k_proj." in hf):
            ref = permute(w, n_head if ".q_proj." in hf else n_kv)
        ref = ref.reshape(-1)
        if w.ndim == 1:
            check(tname == "F32", f"{gn}: 1-D tensor of type {tname}")
        elif want_type in ("F32", "F16"):
            check(tname == want_type, f"{gn}: type {tname}, expected {want_type}")
        if tname == "F32":
            got = np.frombuffer(raw, dtype="<f4")
            check(np.array_equal(got, ref), f"{gn}: F32 values differ (max |d| "
                  f"{np.max(np.abs(got - ref)) if got.size == ref.size else 'size'})")
        elif tname == "F16":
            got = np.frombuffer(raw, dtype="<f2")
            check(np.array_equal(got, ref.astype(np.float16)), f"{gn}: F16 values differ")
        elif tname == "Q8_0":
            got, d = decode_q8_0(raw, ref.size)
            err = np.abs(got - ref)
            # Half a step, plus 127 codes times the f16 rounding of the scale (2^-11 d).
            check(np.all(err <= d * (0.5 + 127 * 2.0**-11) + 1e-12),
                  f"{gn}: Q8_0 error {err.max()} beyond half a step")
            amax = np.abs(ref.reshape(-1, 32)).max(axis=1)
            check(np.allclose(np.repeat(amax / 127, 32), d, rtol=2e-3, atol=1e-12),
                  f"{gn}: Q8_0 scales are not max|x|/127")
    rs = cfg.get("rope_scaling") or {}
    if (rs.get("rope_type") or rs.get("type")) == "llama3":
        # convert_hf_to_gguf.py: one factor per frequency pair, from the Llama 3.1 rule.
        check("rope_freqs.weight" in info, "no rope_freqs.weight for rope_type llama3")
        base = cfg.get("rope_theta", 10000.0)
        freqs = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
        factor, lo, hi = rs.get("factor", 8.0), rs.get("low_freq_factor", 1.0), rs.get("high_freq_factor", 4.0)
        old = rs.get("original_max_position_embeddings", 8192)
        want = []
        for f in freqs:
            wl = 2 * np.pi / f
            if wl < old / hi:
                want.append(1.0)
            elif wl > old / lo:
                want.append(factor)
            else:
                sm = (old / wl - lo) / (hi - lo)
                want.append(1 / ((1 - sm) / factor + sm))
        if "rope_freqs.weight" in info:
            dims, tname, raw = info["rope_freqs.weight"]
            got = np.frombuffer(raw, dtype="<f4")
            check(tname == "F32" and dims == [head_dim // 2], f"rope_freqs {tname} {dims}")
            check(np.allclose(got, np.array(want, dtype=np.float32), rtol=1e-6),
                  f"rope_freqs {got} != {want}")
        expected_names.add("rope_freqs.weight")
    extra = set(info) - expected_names
    check(not extra, f"unexpected tensors {sorted(extra)}")
    if failures:
        for f in failures[:20]:
            print("FAIL:", f)
        print(f"{len(failures)} failure(s)")
        return 1
    print(f"ok: {len(tensors)} tensors, {len(kv)} keys, arch {arch}, tokenizer {model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
