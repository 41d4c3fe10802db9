#!/usr/bin/env python3
"""Independent float64 reference of the Llama-family forward pass, numpy only.

Written from the published descriptions, not from sutra (it imports nothing of sutra's):
  - RMSNorm (Zhang & Sennrich 2019): y = x / sqrt(mean(x^2) + eps) * g
  - rotary position embedding (Su et al. 2021) in the Hugging Face "rotate_half" layout:
    element i of a head pairs with element i + d/2, rotated by pos * inv_freq[i], with
    inv_freq[i] = theta^(-2i/d), rescaled by rope_scaling: "linear" divides by factor,
    "llama3" (Llama 3.1) divides low frequencies by factor, keeps high ones and interpolates
    between them by wavelength
  - grouped-query attention (Ainslie et al. 2023): query head h reads key/value head
    h // (heads / kv_heads); causal mask; Mistral's sliding window keeps keys j with i - j < w
  - Qwen2 q/k/v biases; Llama/Qwen3 attention_bias (q/k/v/o biases); Qwen3 q_norm / k_norm,
    an RMSNorm over each head's head_dim applied to q and k after the projection, before RoPE
  - SwiGLU MLP (Shazeer 2020): down(silu(gate(x)) * up(x))
  - the head: final RMSNorm, then lm_head.weight, or embed_tokens when tie_word_embeddings.

The checkpoint is read with a parser of its own: safetensors is an 8-byte little-endian
header length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw data
(F32, F16, BF16 here); sharded checkpoints list files in model.safetensors.index.json.

usage: llama_reference.py MODEL_DIR --ids 1,2,3 [--out logits.f32|logits.npy]
Writes the logits [len(ids), vocab_size] as little-endian float32 (raw, or .npy by suffix);
without --out prints the argmax of each position. Exit status 2 on any error.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

SUPPORTED = ("llama", "mistral", "qwen2", "qwen3")


class RefError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# safetensors

def _decode(raw, dtype, shape):
    if dtype == "F32":
        a = np.frombuffer(raw, dtype="<f4")
    elif dtype == "F16":
        a = np.frombuffer(raw, dtype="<f2")
    elif dtype == "BF16":
        # bfloat16 is the top half of a float32
        a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view("<f4")
    elif dtype == "F64":
        a = np.frombuffer(raw, dtype="<f8")
    else:
        raise RefError("unsupported tensor dtype " + dtype)
    n = 1
    for s in shape:
        n *= s
    if a.size != n:
        raise RefError("tensor data size does not match its shape")
    return a.astype(np.float64).reshape(shape)


class SafeTensors:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) != 8:
                raise RefError(path + ": too short for a safetensors header")
            (n,) = struct.unpack("<Q", head)
            if n > 100_000_000:
                raise RefError(path + ": header too large")
            self.header = json.loads(f.read(n).decode("utf-8"))
        self.data_start = 8 + n
        self.header.pop("__metadata__", None)

    def names(self):
        return list(self.header.keys())

    def load(self, name):
        e = self.header[name]
        begin, end = e["data_offsets"]
        with open(self.path, "rb") as f:
            f.seek(self.data_start + begin)
            raw = f.read(end - begin)
        return _decode(raw, e["dtype"], e["shape"])


class Weights:
    def __init__(self, model_dir):
        index = os.path.join(model_dir, "model.safetensors.index.json")
        self.where = {}
        if os.path.exists(index):
            with open(index) as f:
                weight_map = json.load(f)["weight_map"]
            files = {}
            for name, shard in weight_map.items():
                if shard not in files:
                    files[shard] = SafeTensors(os.path.join(model_dir, shard))
                self.where[name] = files[shard]
        else:
            st = SafeTensors(os.path.join(model_dir, "model.safetensors"))
            for name in st.names():
                self.where[name] = st

    def has(self, name):
        return name in self.where

    def get(self, name):
        if name not in self.where:
            raise RefError("tensor " + name + " is missing")
        return self.where[name].load(name)


# ---------------------------------------------------------------------------------------------
# config.json

class Config:
    def __init__(self, j):
        self.model_type = j.get("model_type")
        if self.model_type not in SUPPORTED:
            raise RefError("model_type %r not supported by the reference" % self.model_type)
        if j.get("hidden_act", "silu") != "silu":
            raise RefError("hidden_act must be silu")
        self.hidden = j["hidden_size"]
        self.inter = j["intermediate_size"]
        self.layers = j["num_hidden_layers"]
        self.heads = j["num_attention_heads"]
        self.kv_heads = j.get("num_key_value_heads") or self.heads
        hd = j.get("head_dim")
        if hd is None:
            hd = 128 if self.model_type == "qwen3" else self.hidden // self.heads
        self.head_dim = hd
        self.vocab = j["vocab_size"]
        self.eps = j["rms_norm_eps"]
        self.tied = bool(j.get("tie_word_embeddings", False))
        bias = bool(j.get("attention_bias", False))
        if self.model_type == "qwen2":
            self.qkv_bias, self.o_bias = True, False
        elif self.model_type == "mistral":
            self.qkv_bias, self.o_bias = False, False
        else:
            self.qkv_bias, self.o_bias = bias, bias
        self.qk_norm = self.model_type == "qwen3"
        self.window = None
        if self.model_type == "mistral":
            self.window = j["sliding_window"] if "sliding_window" in j else 4096
        elif j.get("use_sliding_window", False):
            raise RefError("use_sliding_window is not implemented by the reference")
        self.inv_freq = self._rope(j)

    def _rope(self, j):
        params = j.get("rope_parameters") or j.get("rope_scaling") or {}
        theta = params.get("rope_theta", j.get("rope_theta", 10000.0))
        kind = params.get("rope_type", params.get("type", "default"))
        d = self.head_dim
        inv = theta ** (-np.arange(0, d, 2, dtype=np.float64) / d)
        if kind == "default":
            return inv
        if kind == "linear":
            return inv / params["factor"]
        if kind == "llama3":
            # Llama 3.1: wavelengths longer than old_ctx / low_freq_factor are slowed down by
            # `factor`, those shorter than old_ctx / high_freq_factor kept, and the band between
            # interpolated linearly in old_ctx / wavelength.
            factor = params["factor"]
            low = params["low_freq_factor"]
            high = params["high_freq_factor"]
            old_ctx = params["original_max_position_embeddings"]
            out = np.empty_like(inv)
            for i, f in enumerate(inv):
                wavelen = 2.0 * np.pi / f
                if wavelen < old_ctx / high:
                    out[i] = f
                elif wavelen > old_ctx / low:
                    out[i] = f / factor
                else:
                    t = (old_ctx / wavelen - low) / (high - low)
                    out[i] = (1.0 - t) * f / factor + t * f
            return out
        raise RefError("rope type %r not implemented by the reference" % kind)


# ---------------------------------------------------------------------------------------------
# forward pass

def rms_norm(x, g, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g


def rotate(x, cos, sin):
    # x [T, heads, d]; cos/sin [T, d] (angles repeated over the two halves)
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos[:, None, :] + rotated * sin[:, None, :]


def forward(cfg, w, ids):
    T = len(ids)
    d, nh, nkv = cfg.head_dim, cfg.heads, cfg.kv_heads
    emb = w.get("model.embed_tokens.weight")
    x = emb[np.asarray(ids)]
    pos = np.arange(T, dtype=np.float64)
    ang = np.outer(pos, cfg.inv_freq)
    ang = np.concatenate([ang, ang], axis=-1)
    cos, sin = np.cos(ang), np.sin(ang)
    i = np.arange(T)[:, None]
    j = np.arange(T)[None, :]
    visible = j <= i
    if cfg.window:
        visible &= (i - j) < cfg.window
    for layer in range(cfg.layers):
        p = "model.layers.%d." % layer

        def get(name):
            return w.get(p + name)

        h = rms_norm(x, get("input_layernorm.weight"), cfg.eps)
        q = h @ get("self_attn.q_proj.weight").T
        k = h @ get("self_attn.k_proj.weight").T
        v = h @ get("self_attn.v_proj.weight").T
        if cfg.qkv_bias:
            q = q + get("self_attn.q_proj.bias")
            k = k + get("self_attn.k_proj.bias")
            v = v + get("self_attn.v_proj.bias")
        q = q.reshape(T, nh, d)
        k = k.reshape(T, nkv, d)
        v = v.reshape(T, nkv, d)
        if cfg.qk_norm:
            q = rms_norm(q, get("self_attn.q_norm.weight"), cfg.eps)
            k = rms_norm(k, get("self_attn.k_norm.weight"), cfg.eps)
        q = rotate(q, cos, sin)
        k = rotate(k, cos, sin)
        out = np.empty((T, nh, d))
        for head in range(nh):
            g = head // (nh // nkv)
            s = q[:, head, :] @ k[:, g, :].T / np.sqrt(d)
            s = np.where(visible, s, -np.inf)
            s = s - s.max(axis=-1, keepdims=True)
            e = np.exp(s)
            out[:, head, :] = (e / e.sum(axis=-1, keepdims=True)) @ v[:, g, :]
        o = out.reshape(T, nh * d) @ get("self_attn.o_proj.weight").T
        if cfg.o_bias:
            o = o + get("self_attn.o_proj.bias")
        x = x + o
        h = rms_norm(x, get("post_attention_layernorm.weight"), cfg.eps)
        gate = h @ get("mlp.gate_proj.weight").T
        up = h @ get("mlp.up_proj.weight").T
        x = x + (gate / (1.0 + np.exp(-gate)) * up) @ get("mlp.down_proj.weight").T
    h = rms_norm(x, w.get("model.norm.weight"), cfg.eps)
    head = emb if cfg.tied else w.get("lm_head.weight")
    return h @ head.T


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("--ids", required=True, help="comma-separated token ids")
    ap.add_argument("--out", help="output file: raw little-endian float32, or .npy")
    a = ap.parse_args(argv)
    try:
        with open(os.path.join(a.model_dir, "config.json")) as f:
            cfg = Config(json.load(f))
        ids = [int(t) for t in a.ids.split(",") if t.strip()]
        if not ids or min(ids) < 0 or max(ids) >= cfg.vocab:
            raise RefError("token ids must be in [0, vocab_size)")
        logits = forward(cfg, Weights(a.model_dir), ids)
    except (RefError, KeyError, OSError, ValueError) as e:
        print("llama_reference: error: %s" % e, file=sys.stderr)
        return 2
    out = logits.astype("<f4")
    if a.out and a.out.endswith(".npy"):
        np.save(a.out, out)
    elif a.out:
        out.tofile(a.out)
    else:
        print(" ".join(str(int(t)) for t in logits.argmax(axis=-1)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
