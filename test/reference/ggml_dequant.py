#!/usr/bin/env python3
"""Independent decoder of GGUF tensor types, written from the layout description in
lib/sutra/format/GGUF.md ("Tensor types"), not from sutra's code.

usage: ggml_dequant.py TYPE COLS IN OUT
  IN holds whole rows of COLS values of TYPE (F32 F16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K);
  OUT receives the decoded values as little-endian float32.
Every step is float32 arithmetic in the order the spec gives (numpy does not fuse ops).
"""
import sys

import numpy as np

F32 = np.float32

BLOCKS = {  # name: (block_elems, block_bytes)
    "F32": (1, 4), "F16": (1, 2),
    "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24), "Q8_0": (32, 34),
    "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210),
}


def f16(blocks, off):
    """The f16 at byte `off` of every block, as float32, shape (n, 1)."""
    return blocks[:, off:off + 2].copy().view("<f2").astype(F32)


def nibbles(qs):
    """qs (n, 16) -> codes (n, 32): element j low nibble of byte j, j + 16 high nibble."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int32)


def high_bits(blocks, off):
    """The little-endian uint32 at `off`: bit i -> element i; returns (n, 32) of 0/1."""
    qh = blocks[:, off:off + 4].copy().view("<u4").astype(np.uint64)  # (n, 1)
    shifts = np.arange(32, dtype=np.uint64)[None, :]
    return ((qh >> shifts) & 1).astype(np.int32)


def dec_q4_0(b):
    d = f16(b, 0)
    q = nibbles(b[:, 2:18])
    return (q - 8).astype(F32) * d


def dec_q4_1(b):
    d, m = f16(b, 0), f16(b, 2)
    q = nibbles(b[:, 4:20])
    return q.astype(F32) * d + m


def dec_q5_0(b):
    d = f16(b, 0)
    q = nibbles(b[:, 6:22]) | (high_bits(b, 2) << 4)
    return (q - 16).astype(F32) * d


def dec_q5_1(b):
    d, m = f16(b, 0), f16(b, 2)
    q = nibbles(b[:, 8:24]) | (high_bits(b, 4) << 4)
    return q.astype(F32) * d + m


def dec_q8_0(b):
    d = f16(b, 0)
    qs = b[:, 2:34].copy().view(np.int8)
    return qs.astype(F32) * d


def k4_scales(s):
    """scales[12] (n, 12) -> sc (n, 8), mb (n, 8) as the 6-bit table in GGUF.md."""
    s = s.astype(np.int32)
    sc = np.zeros((s.shape[0], 8), np.int32)
    mb = np.zeros((s.shape[0], 8), np.int32)
    for j in range(8):
        if j < 4:
            sc[:, j] = s[:, j] & 63
            mb[:, j] = s[:, j + 4] & 63
        else:
            sc[:, j] = (s[:, j + 4] & 0x0F) | ((s[:, j - 4] >> 6) << 4)
            mb[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
    return sc, mb


def dec_k45(b, five):
    n = b.shape[0]
    d, dmin = f16(b, 0), f16(b, 2)
    sc, mb = k4_scales(b[:, 4:16])
    qs = b[:, 48:176] if five else b[:, 16:144]
    qh = b[:, 16:48].astype(np.int32) if five else None
    y = np.zeros((n, 256), F32)
    for c in range(4):
        byte = qs[:, 32 * c:32 * c + 32].astype(np.int32)
        lo, hi = byte & 0x0F, byte >> 4
        if five:
            lo = lo + ((qh >> (2 * c)) & 1) * 16
            hi = hi + ((qh >> (2 * c + 1)) & 1) * 16
        d1 = d * sc[:, 2 * c:2 * c + 1].astype(F32)
        m1 = dmin * mb[:, 2 * c:2 * c + 1].astype(F32)
        d2 = d * sc[:, 2 * c + 1:2 * c + 2].astype(F32)
        m2 = dmin * mb[:, 2 * c + 1:2 * c + 2].astype(F32)
        y[:, 64 * c:64 * c + 32] = d1 * lo.astype(F32) - m1
        y[:, 64 * c + 32:64 * c + 64] = d2 * hi.astype(F32) - m2
    return y


def dec_q6_k(b):
    n = b.shape[0]
    d = f16(b, 208)
    scales = b[:, 192:208].copy().view(np.int8).astype(F32)  # (n, 16)
    codes = np.zeros((n, 256), np.int32)
    for h in range(2):
        a = b[:, 64 * h:64 * h + 32].astype(np.int32)
        bb = b[:, 64 * h + 32:64 * h + 64].astype(np.int32)
        hb = b[:, 128 + 32 * h:128 + 32 * h + 32].astype(np.int32)
        base = 128 * h
        codes[:, base:base + 32] = (a & 0x0F) | (((hb >> 0) & 3) << 4)
        codes[:, base + 32:base + 64] = (bb & 0x0F) | (((hb >> 2) & 3) << 4)
        codes[:, base + 64:base + 96] = (a >> 4) | (((hb >> 4) & 3) << 4)
        codes[:, base + 96:base + 128] = (bb >> 4) | (((hb >> 6) & 3) << 4)
    sub = np.arange(256) // 16
    sc = scales[:, sub]  # (n, 256)
    return (d * sc) * (codes - 32).astype(F32)


DECODERS = {
    "Q4_0": dec_q4_0, "Q4_1": dec_q4_1, "Q5_0": dec_q5_0, "Q5_1": dec_q5_1, "Q8_0": dec_q8_0,
    "Q4_K": lambda b: dec_k45(b, False), "Q5_K": lambda b: dec_k45(b, True),
    "Q6_K": dec_q6_k,
}


def decode(type_name, cols, data):
    elems, nbytes = BLOCKS[type_name]
    if cols % elems:
        raise ValueError(f"{type_name}: {cols} columns is not a multiple of {elems}")
    row_bytes = cols // elems * nbytes
    if row_bytes == 0 or len(data) % row_bytes:
        raise ValueError(f"{type_name}: {len(data)} bytes is not whole rows of {row_bytes}")
    raw = np.frombuffer(data, dtype=np.uint8)
    if type_name == "F32":
        return raw.copy().view("<f4").astype(F32)
    if type_name == "F16":
        return raw.copy().view("<f2").astype(F32)
    blocks = raw.reshape(-1, nbytes)
    return DECODERS[type_name](blocks).astype(F32).reshape(-1)


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    type_name, cols = argv[1], int(argv[2])
    with open(argv[3], "rb") as f:
        data = f.read()
    y = decode(type_name, cols, data)
    with open(argv[4], "wb") as f:
        f.write(y.astype("<f4").tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
