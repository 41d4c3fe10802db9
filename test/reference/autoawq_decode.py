#!/usr/bin/env python3
"""Independent decoder for sutra's AutoAWQ "GEMM" export (numpy only, no sutra code).

Written from the layout description (issue 10, lib/sutra/format/AUTOAWQ.md):
  P.qweight int32 [in, out/8], P.qzeros int32 [in/G, out/8], P.scales f16 [in/G, out];
  eight 4-bit values per int32 along the output dimension, nibble i (bits 4i..4i+3) holding
  column [0, 2, 4, 6, 1, 3, 5, 7][i] of its group of eight; W = ((q - z) * s) transposed.

Usage:
  autoawq_decode.py --selftest
  autoawq_decode.py AWQ_DIR DEQUANTIZED.safetensors
DEQUANTIZED is `sutra dequantize X.qbin --dtype f32` of the exported .qbin. Every quantized
linear must decode, in f32, to the same bits; every other tensor must be the F16 rounding of
the dequantized f32 (or the same bytes for non-float dtypes). Exit 0 on success, 1 on a
mismatch (the first one is printed), 2 on a usage or format problem.
Safetensors files are parsed by hand (8-byte little-endian header length, JSON header, data)
and read one tensor at a time, so memory stays bounded by the largest tensor.
"""
import json
import os
import struct
import sys

import numpy as np

ORDER = [0, 2, 4, 6, 1, 3, 5, 7]  # nibble i holds column ORDER[i] of its group of eight

NP_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
    "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "u1",
    "BF16": "<u2",
}


class SafetensorsFile:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n).decode("utf-8"))
        self.data_start = 8 + n
        self.meta = header.pop("__metadata__", None)
        self.tensors = header

    def raw(self, name):
        t = self.tensors[name]
        b, e = t["data_offsets"]
        with open(self.path, "rb") as f:
            f.seek(self.data_start + b)
            return f.read(e - b)

    def array(self, name):
        t = self.tensors[name]
        dt = NP_DTYPES.get(t["dtype"])
        if dt is None:
            raise ValueError(f"{self.path}: {name}: dtype {t['dtype']} not handled")
        a = np.frombuffer(self.raw(name), dtype=np.dtype(dt)).reshape(t["shape"])
        if t["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        return a


class Checkpoint:
    """A folder's model.safetensors, or its shards through model.safetensors.index.json."""

    def __init__(self, folder):
        index = os.path.join(folder, "model.safetensors.index.json")
        self.files = {}
        self.where = {}
        if os.path.exists(index):
            with open(index) as f:
                idx = json.load(f)
            total = 0
            for name, shard in idx["weight_map"].items():
                if shard not in self.files:
                    self.files[shard] = SafetensorsFile(os.path.join(folder, shard))
                self.where[name] = self.files[shard]
            for st in self.files.values():
                for name, t in st.tensors.items():
                    if self.where.get(name) is not st:
                        raise ValueError(f"{st.path}: {name} is not in the index's weight_map")
                    total += t["data_offsets"][1] - t["data_offsets"][0]
            if total != idx["metadata"]["total_size"]:
                raise ValueError(f"{index}: total_size {idx['metadata']['total_size']} but "
                                 f"the shards hold {total} bytes")
            if os.path.exists(os.path.join(folder, "model.safetensors")):
                raise ValueError(f"{folder}: both model.safetensors and an index")
        else:
            st = SafetensorsFile(os.path.join(folder, "model.safetensors"))
            self.files["model.safetensors"] = st
            for name in st.tensors:
                self.where[name] = st
        for st in self.files.values():
            if st.meta is None or st.meta.get("format") != "pt":
                raise ValueError(f"{st.path}: __metadata__ must hold format 'pt' (transformers)")

    def names(self):
        return list(self.where)

    def info(self, name):
        return self.where[name].tensors[name]

    def array(self, name):
        return self.where[name].array(name)


def unpack_awq(words, out):
    """int32 [rows, out/8] -> uint8 values [rows, out], undoing the interleaved order."""
    w = np.ascontiguousarray(words).view(np.uint32)
    rows = w.shape[0]
    vals = np.empty((rows, out // 8, 8), dtype=np.uint8)
    for i in range(8):
        vals[:, :, ORDER[i]] = (w >> np.uint32(4 * i)) & np.uint32(15)
    return vals.reshape(rows, out)


def decode_linear(qweight, qzeros, scales, group):
    """The f32 weight [out, in] of an AutoAWQ GEMM linear."""
    in_features = qweight.shape[0]
    out = qweight.shape[1] * 8
    q = unpack_awq(qweight, out).astype(np.float32)            # [in, out]
    z = unpack_awq(qzeros, out).astype(np.float32)             # [in/G, out]
    s = scales.astype(np.float32)                              # [in/G, out]
    k = np.arange(in_features) // group
    w_t = (q - z[k, :]) * s[k, :]                              # f32: (q - z) exact, one rounding
    return np.ascontiguousarray(w_t.T)


def selftest():
    # Hand-computed: columns 0..7 hold 1..8. Nibble i holds column ORDER[i]:
    # nibbles (low to high) = 1, 3, 5, 7, 2, 4, 6, 8 -> 0x86427531.
    word = np.array([[0x86427531 - (1 << 32)]], dtype=np.int32)
    got = unpack_awq(word, 8)[0].tolist()
    assert got == [1, 2, 3, 4, 5, 6, 7, 8], got
    # A plain (not interleaved) reading would give 1, 3, 5, 7, 2, 4, 6, 8: the order matters.
    plain = [(0x86427531 >> (4 * i)) & 15 for i in range(8)]
    assert plain == [1, 3, 5, 7, 2, 4, 6, 8], plain
    # Two words per row, two input rows, group 1: weight = (q - z) * s transposed.
    # Row 0: columns 0..15 = 0..15; row 1: all 15. Zeros 8 everywhere, scales 0.5.
    def pack(vals):
        w = 0
        for i in range(8):
            w |= vals[ORDER[i]] << (4 * i)
        return w - (1 << 32) if w >= 1 << 31 else w
    assert pack(list(range(1, 9))) == 0x86427531 - (1 << 32)
    qweight = np.array([[pack(list(range(0, 8))), pack(list(range(8, 16)))],
                        [pack([15] * 8), pack([15] * 8)]], dtype=np.int32)
    qzeros = np.array([[pack([8] * 8)] * 2] * 2, dtype=np.int32)
    scales = np.full((2, 16), 0.5, dtype=np.float16)
    w = decode_linear(qweight, qzeros, scales, 1)
    assert w.shape == (16, 2)
    assert w[:, 0].tolist() == [(c - 8) * 0.5 for c in range(16)], w[:, 0]
    assert w[:, 1].tolist() == [3.5] * 16
    # The word 0x86427531 unpacked for column 3 of a row: nibble 5 (ORDER[5] == 3) = 4.
    assert ((0x86427531 >> (4 * ORDER.index(3))) & 15) == 4
    print("selftest ok: nibble order [0, 2, 4, 6, 1, 3, 5, 7], 0x86427531 -> 1..8")


def fail(msg):
    print("MISMATCH: " + msg)
    sys.exit(1)


def same_bits(a, b):
    return a.shape == b.shape and np.array_equal(np.ascontiguousarray(a).view(np.uint8),
                                                 np.ascontiguousarray(b).view(np.uint8))


def check(folder, dequantized):
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    qc = config.get("quantization_config")
    if qc is None:
        fail("config.json has no quantization_config")
    for key, want in (("quant_method", "awq"), ("bits", 4), ("zero_point", True),
                      ("version", "gemm")):
        if qc.get(key) != want:
            fail(f"quantization_config.{key} is {qc.get(key)!r}, not {want!r}")
    if config.get("torch_dtype") != "float16":
        fail(f"torch_dtype is {config.get('torch_dtype')!r}, not 'float16'")
    group = qc["group_size"]
    skip = qc.get("modules_to_not_convert") or []
    awq = Checkpoint(folder)
    deq = SafetensorsFile(dequantized)
    used = set()
    n_quant = n_other = 0
    for name, t in deq.tensors.items():
        ref = deq.array(name)
        module = name[:-len(".weight")] if name.endswith(".weight") else None
        if module is not None and module + ".qweight" in awq.where:
            parts = [module + s for s in (".qweight", ".qzeros", ".scales")]
            for p in parts:
                if p not in awq.where:
                    fail(f"{p} missing")
                used.add(p)
            qw, qz, sc = (awq.info(p) for p in parts)
            if (qw["dtype"], qz["dtype"], sc["dtype"]) != ("I32", "I32", "F16"):
                fail(f"{module}: dtypes {qw['dtype']}, {qz['dtype']}, {sc['dtype']}")
            out, in_features = ref.shape
            if (qw["shape"] != [in_features, out // 8] or qz["shape"] != [in_features // group,
                                                                            out // 8]
                    or sc["shape"] != [in_features // group, out] or in_features % group):
                fail(f"{module}: shapes {qw['shape']} {qz['shape']} {sc['shape']} for "
                     f"weight [{out}, {in_features}] and group {group}")
            if any(key in module for key in skip):
                fail(f"{module} is quantized but matched by modules_to_not_convert")
            w = decode_linear(awq.array(parts[0]), awq.array(parts[1]), awq.array(parts[2]),
                              group)
            if not same_bits(w, ref.astype(np.float32)):
                bad = np.argwhere(w.view(np.uint32) != ref.view(np.uint32))[0]
                fail(f"{name}{bad.tolist()}: decoded {w[tuple(bad)]!r}, dequantized "
                     f"{ref[tuple(bad)]!r}")
            n_quant += 1
            continue
        if name not in awq.where:
            fail(f"{name} missing from the export")
        used.add(name)
        info = awq.info(name)
        if t["dtype"] in ("F32", "F16", "BF16"):
            if info["dtype"] != "F16":
                fail(f"{name}: exported as {info['dtype']}, not F16")
            want = ref.astype(np.float32).astype(np.float16)
            if not same_bits(awq.array(name), want):
                fail(f"{name}: F16 values differ from the dequantized f32 rounded to F16")
        else:
            if info["dtype"] != t["dtype"] or awq.where[name].raw(name) != deq.raw(name):
                fail(f"{name}: not copied unchanged")
        # A plain linear in a block must be skipped by the loaders.
        if (module is not None and ref.ndim == 2 and "embed_tokens" not in name
                and "lm_head" not in name and not any(key in module for key in skip)):
            fail(f"{module} is a plain F16 linear but not in modules_to_not_convert")
        n_other += 1
    extra = sorted(set(awq.names()) - used)
    if extra:
        fail(f"tensors in the export that the checkpoint does not have: {extra[:5]}")
    print(f"ok: {n_quant} quantized linears bit-exact, {n_other} other tensors equal, "
          f"group {group}, {len(skip)} modules not converted, {len(awq.files)} weight file(s)")


def main(argv):
    if len(argv) == 2 and argv[1] == "--selftest":
        selftest()
        return 0
    if len(argv) != 3:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    selftest()
    try:
        check(argv[1], argv[2])
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
