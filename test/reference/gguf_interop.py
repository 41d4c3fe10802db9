#!/usr/bin/env python3
"""Cross-check of a sutra GGUF export with llama.cpp's own Python reader (gguf-py).

gguf-py is not vendored: point SUTRA_GGUF_PY at its folder (llama.cpp's gguf-py/, e.g. from
the git bundle inside the npm package node-llama-cpp@3.22.1:
`git clone node_modules/node-llama-cpp/llama/gitRelease.bundle /tmp/llama.cpp-src`); without
it the script prints "skipped" and exits 77.

For every tensor, gguf.GGUFReader reads the file and gguf.quants.dequantize decodes the
tensor (all of llama.cpp's types); the values are compared with the dequantized .qbin
(`sutra dequantize` output, q/k rows permuted for the llama architecture as the converter's
LlamaModel.permute does): exactly for F32, as float16 for F16, and for the quantized types
the relative RMS error must stay under a bound per type (a wrong block layout gives errors
near or above 1). Prints one line per type: tensors, relative RMS error (max over tensors).

Usage: gguf_interop.py FILE.gguf DEQUANTIZED.safetensors config.json
"""
import json
import os
import struct
import sys

import numpy as np

BOUND = {"Q8_0": 0.01, "Q6_K": 0.03, "Q5_0": 0.06, "Q5_1": 0.06, "Q5_K": 0.06,
         "Q4_0": 0.13, "Q4_1": 0.13, "Q4_K": 0.13}


def main():
    root = os.environ.get("SUTRA_GGUF_PY", "/tmp/llama.cpp-src/gguf-py")
    if not os.path.isfile(os.path.join(root, "gguf", "__init__.py")):
        print(f"skipped: gguf-py not found at {root} (set SUTRA_GGUF_PY)")
        return 77
    sys.path.insert(0, root)
    import gguf  # noqa: E402

    path, st_path, cfg_path = sys.argv[1:4]
    cfg = json.load(open(cfg_path))
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_head)
    arch = {"llama": "llama", "mistral": "llama"}.get(cfg["model_type"], cfg["model_type"])

    data = open(st_path, "rb").read()
    n = struct.unpack_from("<Q", data, 0)[0]
    header = json.loads(data[8:8 + n])
    src = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        src[name] = np.frombuffer(data[8 + n + b:8 + n + end], dtype="<f4").reshape(e["shape"])

    def hf_name(gn):
        top = {"token_embd.weight": "model.embed_tokens.weight",
               "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight"}
        if gn in top:
            return top[gn]
        _, blk, rest = gn.split(".", 2)
        table = {"attn_norm.weight": "input_layernorm.weight",
                 "ffn_norm.weight": "post_attention_layernorm.weight",
                 "attn_q.weight": "self_attn.q_proj.weight", "attn_q.bias": "self_attn.q_proj.bias",
                 "attn_k.weight": "self_attn.k_proj.weight", "attn_k.bias": "self_attn.k_proj.bias",
                 "attn_v.weight": "self_attn.v_proj.weight", "attn_v.bias": "self_attn.v_proj.bias",
                 "attn_output.weight": "self_attn.o_proj.weight",
                 "attn_q_norm.weight": "self_attn.q_norm.weight",
                 "attn_k_norm.weight": "self_attn.k_norm.weight",
                 "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
                 "ffn_down.weight": "mlp.down_proj.weight"}
        return f"model.layers.{blk}.{table[rest]}"

    def permute(w, heads):
        return (w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:])
                .swapaxes(1, 2).reshape(w.shape))

    r = gguf.GGUFReader(path)
    worst, count, failures = {}, {}, []
    for t in r.tensors:
        if t.name == "rope_freqs.weight":
            continue
        hf = hf_name(t.name)
        ref = src[hf]
        if arch == "llama" and (".q_proj." in hf or ".k_proj." in hf):
            ref = permute(ref, n_head if ".q_proj." in hf else n_kv)
        got = gguf.quants.dequantize(t.data, t.tensor_type).reshape(ref.shape).astype(np.float32)
        ty = t.tensor_type.name
        if ty == "F32":
            err = 0.0 if np.array_equal(got, ref) else float("inf")
        elif ty == "F16":
            err = 0.0 if np.array_equal(got, ref.astype(np.float16).astype(np.float32)) else float("inf")
        else:
            err = float(np.sqrt(np.mean((got - ref) ** 2) / max(np.mean(ref ** 2), 1e-30)))
        if err > BOUND.get(ty, 0.0):
            failures.append(f"{t.name} ({ty}): relative RMS error {err:.4g}")
        worst[ty] = max(worst.get(ty, 0.0), err)
        count[ty] = count.get(ty, 0) + 1
    for ty in sorted(worst):
        print(f"{ty:5s} {count[ty]:4d} tensors  rel. RMS error max {worst[ty]:.4g}")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
