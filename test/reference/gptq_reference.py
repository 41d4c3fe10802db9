#!/usr/bin/env python3
"""Independent GPTQ reference (Frantar et al., ICLR 2023, Algorithm 1), written from the paper
and from the contract in lib/sutra/quant/gptq.hpp, not from sutra's code.

usage: gptq_reference.py --w W --h H [--rows R --cols C] [--bits 4] [--group 0] [--damp 0.01]
                         [--block 128] [--act-order] --out DIR
       gptq_reference.py --self-check

  W: [rows, cols] float32, H: [cols, cols] float64 (the sum of x x^T over calibration inputs);
  either .npy files or raw little-endian (then --rows and --cols give the shapes).
  --group 0 means one group per row. Writes into DIR:
    codes.u8    [rows, cols]      uint8 codes, unpacked, original column order
    scales.f16  [rows, n_groups]  float16 bit patterns (little endian)
    zeros.u8    [rows, n_groups]  uint8 zero points, unpacked
  and prints {"loss": tr((W-Q) H (W-Q)^T), "rtn_loss": same for round to nearest} as JSON.
  Errors (non-finite weight, H not positive definite, scale too large for F16) go to stderr
  with exit code 2.

Numerics: everything GPTQ computes (H, its damping, the Cholesky factors, the inverse, the
error feedback, the weights being updated) is float64. The quantization grid is RTN's
(lib/sutra/quant/rtn.hpp), which is defined in float32: a group's min/max, its scale
f16(max(hi - lo, 1e-5) / qmax) widened back to float32 (at least 2^-24), its zero
clamp(rint(-lo / scale), 0, qmax) and a code clamp(rint(w / scale) + zero, 0, qmax) are computed
on the float32 value of the (float64) weight, so that with no feedback (H = I) the codes are
exactly RTN's. The dequantized value (q - zero) * scale is exact in both precisions.

Algorithm, for the visiting order P (identity, or stable descending diag H with --act-order):
  dead columns (H_jj = 0): H_jj = 1, W[:, j] = 0;
  with --act-order, every group's grid is fixed first from the dead-zeroed W ("static groups",
  groups stay contiguous in the original order); otherwise a group's grid is computed from its
  weights as updated by every earlier column when its first column is reached;
  H += damp * mean(diag H) * I;  U = upper Cholesky factor of (H[P][:, P])^-1, H^-1 = U^T U;
  for each column j of P, in lazy blocks of --block columns:
    q_j = grid(w_j);  e = (w_j - q_j) / U_jj;  w_k -= e * U_jk for every later k.
"""
import argparse
import json
import os
import sys

import numpy as np

F32 = np.float32
F64 = np.float64
MAX_F16_SCALE = F32(65504.0)


class GptqError(Exception):
    pass


def group_width(cols, group):
    return cols if group == 0 or group >= cols else group


# ---------------------------------------------------------------------------- the RTN grid


def grid(values, qmax):
    """RTN's grid of each row of `values` [rows, width] (float64): (scale f16 bits uint16,
    scale float32, zero float32), computed in float32 as rtn.hpp defines it."""
    v = values.astype(F32)
    lo = v.min(axis=1)
    hi = v.max(axis=1)
    raw = np.maximum(hi - lo, F32(1e-5)) / F32(qmax)
    if not np.all(raw <= MAX_F16_SCALE):
        r = int(np.argmax(~(raw <= MAX_F16_SCALE)))
        raise GptqError(f"row {r}: group scale {float(raw[r])} does not fit an F16")
    bits = raw.astype(np.float16).view(np.uint16).copy()
    bits[bits == 0] = 1  # the smallest F16 subnormal, 2^-24
    scale = bits.view(np.float16).astype(F32)
    zero = np.clip(np.rint(-lo / scale), F32(0), F32(qmax)).astype(F32)
    return bits, scale, zero


def round_to_grid(w, scale, zero, qmax):
    """Codes (uint8) and their float64 values for the float64 column(s) w."""
    q = np.clip(np.rint(w.astype(F32) / scale) + zero, F32(0), F32(qmax)).astype(F32)
    deq = (q.astype(F64) - zero.astype(F64)) * scale.astype(F64)
    return q.astype(np.uint8), deq


def rtn(w, bits, group):
    """Round to nearest over the same layout: (codes, scale bits, zeros, dequantized)."""
    rows, cols = w.shape
    qmax = (1 << bits) - 1
    gw = group_width(cols, group)
    ng = (cols + gw - 1) // gw
    codes = np.zeros((rows, cols), np.uint8)
    sbits = np.zeros((rows, ng), np.uint16)
    zeros = np.zeros((rows, ng), np.uint8)
    deq = np.zeros((rows, cols), F64)
    for g in range(ng):
        a, b = g * gw, min(cols, (g + 1) * gw)
        sb, sc, z = grid(w[:, a:b], qmax)
        c, d = round_to_grid(w[:, a:b], sc[:, None], z[:, None], qmax)
        codes[:, a:b], deq[:, a:b], sbits[:, g], zeros[:, g] = c, d, sb, z.astype(np.uint8)
    return codes, sbits, zeros, deq


def dequantize(codes, sbits, zeros, group):
    rows, cols = codes.shape
    gw = group_width(cols, group)
    scale = np.repeat(sbits.view(np.float16).astype(F64), gw, axis=1)[:, :cols]
    zero = np.repeat(zeros.astype(F64), gw, axis=1)[:, :cols]
    return (codes.astype(F64) - zero) * scale


def proxy_loss(w, deq, h):
    """tr((W - Q) H (W - Q)^T), float64."""
    d = w.astype(F64) - deq
    return float(np.sum((d @ h) * d))


# ---------------------------------------------------------------------------- GPTQ


def check_finite(w):
    bad = ~np.isfinite(w)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise GptqError(f"weight [{r}, {c}] is not finite ({w[r, c]})")


def factor(h, damp, act_order):
    """(U upper Cholesky of the damped, permuted H^-1; perm; dead mask)."""
    h = np.array(h, dtype=F64, copy=True)
    cols = h.shape[0]
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    if act_order:
        perm = np.argsort(-np.diag(h), kind="stable")
    else:
        perm = np.arange(cols)
    hp = h[perm][:, perm]
    hp[np.diag_indices(cols)] += damp * np.mean(np.diag(hp))
    try:
        lower = np.linalg.cholesky(hp)
        lower_inv = np.linalg.solve(lower, np.eye(cols))  # L^-1, H^-1 = L^-T L^-1
        hinv = lower_inv.T @ lower_inv
        u = np.linalg.cholesky(hinv).T
    except np.linalg.LinAlgError as e:
        raise GptqError(f"the damped Hessian is not positive definite ({e}); "
                        "use a larger damp") from None
    if not np.all(np.isfinite(u)):
        raise GptqError("the damped Hessian is not positive definite (non-finite factor)")
    return u, perm, dead


def gptq(w, h, bits, group, damp=0.01, block=128, act_order=False):
    """GPTQ of w [rows, cols] (float32 or float64) with H [cols, cols]:
    (codes [rows, cols] uint8, scale bits [rows, n_groups] uint16, zeros [rows, n_groups])."""
    w = np.array(w, dtype=F64, copy=True)
    check_finite(w)
    rows, cols = w.shape
    if h.shape != (cols, cols):
        raise GptqError(f"H is {h.shape}, expected ({cols}, {cols})")
    qmax = (1 << bits) - 1
    gw = group_width(cols, group)
    ng = (cols + gw - 1) // gw
    block = max(1, int(block))

    u, perm, dead = factor(h, damp, act_order)
    w[:, dead] = 0.0

    sbits = np.zeros((rows, ng), np.uint16)
    scale = np.zeros((rows, ng), F32)
    zero = np.zeros((rows, ng), F32)

    def set_group(g, values):
        sb, sc, z = grid(values, qmax)
        sbits[:, g], scale[:, g], zero[:, g] = sb, sc, z

    if act_order:  # static groups, from the dead-zeroed original weights
        for g in range(ng):
            set_group(g, w[:, g * gw:min(cols, (g + 1) * gw)])

    wp = w[:, perm]  # a copy, in visiting order
    codes_p = np.zeros((rows, cols), np.uint8)
    for i1 in range(0, cols, block):
        i2 = min(cols, i1 + block)
        w1 = wp[:, i1:i2].copy()
        err1 = np.zeros((rows, i2 - i1), F64)
        for i in range(i2 - i1):
            j = i1 + i  # position in the visiting order
            c = int(perm[j])  # original column
            g = c // gw
            if not act_order and c % gw == 0:
                # Without act_order positions are columns. The group's weights as they are now:
                # the block's columns carry every earlier update; columns past the block still
                # lack this block's (lazy) updates, applied here explicitly.
                end = min(cols, c + gw)
                inside = w1[:, i:min(i2, end) - i1]
                if end > i2:
                    past = wp[:, i2:end] - err1 @ u[i1:i2, i2:end]
                    inside = np.concatenate([inside, past], axis=1)
                set_group(g, inside)
            q, deq = round_to_grid(w1[:, i], scale[:, g], zero[:, g], qmax)
            codes_p[:, j] = q
            e = (w1[:, i] - deq) / u[j, j]
            w1[:, i:] -= np.outer(e, u[j, j:i2])
            err1[:, i] = e
        wp[:, i2:] -= err1 @ u[i1:i2, i2:]
    codes = np.zeros_like(codes_p)
    codes[:, perm] = codes_p
    return codes, sbits, zero.astype(np.uint8)


# ---------------------------------------------------------------------------- self-check


def obs_textbook(w, h, bits, group, damp):
    """The paper's equations (2)-(3) without the Cholesky reformulation, in the identity order:
    after rounding column q, the remaining weights move by -(w_q - quant(w_q)) / [H_F^-1]_qq ·
    (H_F^-1)_{:,q}, and H_F^-1 drops column q by one step of Gaussian elimination."""
    w = np.array(w, dtype=F64, copy=True)
    h = np.array(h, dtype=F64, copy=True)
    rows, cols = w.shape
    qmax = (1 << bits) - 1
    gw = group_width(cols, group)
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h[np.diag_indices(cols)] += damp * np.mean(np.diag(h))
    hinv = np.linalg.inv(h)
    codes = np.zeros((rows, cols), np.uint8)
    ng = (cols + gw - 1) // gw
    sbits = np.zeros((rows, ng), np.uint16)
    zeros = np.zeros((rows, ng), np.uint8)
    sc = z = None
    for q in range(cols):
        if q % gw == 0:
            sb, sc, z = grid(w[:, q:min(cols, q + gw)], qmax)
            sbits[:, q // gw], zeros[:, q // gw] = sb, z.astype(np.uint8)
        code, deq = round_to_grid(w[:, q], sc, z, qmax)
        codes[:, q] = code
        e = (w[:, q] - deq) / hinv[q, q]
        w[:, q:] -= np.outer(e, hinv[q, q:])
        hinv = hinv - np.outer(hinv[:, q], hinv[q, :]) / hinv[q, q]
    return codes, sbits, zeros


def correlated_case(rng, rows, cols, n, spread=1.0):
    """W ~ N(0, 0.02^2); X = Z A with a mixing A (correlated channels) and per-channel
    magnitudes 10^(spread * u), u ~ U(-1, 1); H = X^T X."""
    w = (rng.standard_normal((rows, cols)) * 0.02).astype(F32)
    a = np.eye(cols) + rng.standard_normal((cols, cols)) / np.sqrt(cols)
    mag = 10.0 ** (spread * rng.uniform(-1, 1, cols))
    x = (rng.standard_normal((n, cols)) @ a) * mag
    return w, x.T @ x


def self_check():
    rng = np.random.default_rng(1234)
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    # 1. With H = I there is no feedback: codes, scales and zeros are RTN's.
    w = (rng.standard_normal((16, 200)) * 0.05).astype(F32)
    for bits in (3, 4, 8):
        for group in (0, 32, 64):
            c, s, z = gptq(w, np.eye(200), bits, group)
            rc, rs, rz, _ = rtn(w.astype(F64), bits, group)
            check(np.array_equal(c, rc) and np.array_equal(s, rs) and np.array_equal(z, rz),
                  f"H = I gives RTN (bits {bits}, group {group})")

    # 2. Lazy blocks change nothing but rounding: block 1, 7, 128 and the textbook OBS update
    #    agree (ragged last group and last block: cols 200).
    w, h = correlated_case(rng, 24, 200, 800)
    for bits, group in ((4, 32), (3, 64), (8, 0), (4, 48)):
        base = gptq(w, h, bits, group, block=1)
        for block in (7, 128, 500):
            other = gptq(w, h, bits, group, block=block)
            check(all(np.array_equal(a, b) for a, b in zip(base, other)),
                  f"block {block} equals block 1 (bits {bits}, group {group})")
        tb = obs_textbook(w, h, bits, group, 0.01)
        same = np.mean(tb[0] == base[0])
        check(same >= 0.999, f"textbook OBS update agrees on {same:.4%} of codes "
              f"(bits {bits}, group {group})")

    # 3. GPTQ lowers the proxy loss below RTN on correlated inputs; act_order lowers it
    #    further when channel magnitudes are very uneven.
    for bits, group in ((3, 32), (4, 64), (4, 0), (8, 32)):
        w, h = correlated_case(rng, 32, 256, 1024)
        c, s, z = gptq(w, h, bits, group)
        lg = proxy_loss(w, dequantize(c, s, z, group), h)
        lr = proxy_loss(w, rtn(w.astype(F64), bits, group)[3], h)
        check(lg < 0.85 * lr,
              f"loss GPTQ {lg:.4g} < 0.85 RTN {lr:.4g} (bits {bits}, group {group})")
    w, h = correlated_case(rng, 32, 256, 1024, spread=1.5)
    for group in (32, 0):
        plain = gptq(w, h, 3, group)
        ordered = gptq(w, h, 3, group, act_order=True)
        lp = proxy_loss(w, dequantize(*plain, group), h)
        lo = proxy_loss(w, dequantize(*ordered, group), h)
        check(lo < lp, f"act_order loss {lo:.4g} < {lp:.4g} (uneven channels, group {group})")

    # 4. Dead columns decode to 0, and their weights (zeroed first) change nothing.
    w, h = correlated_case(rng, 8, 96, 400)
    for j in (0, 40, 95):
        h[j, :] = 0
        h[:, j] = 0
    for act in (False, True):
        c, s, z = gptq(w, h, 4, 32, act_order=act)
        deq = dequantize(c, s, z, 32)
        check(np.all(deq[:, [0, 40, 95]] == 0) and np.all(np.isfinite(deq)),
              f"dead columns decode to 0 (act_order {act})")
        w2 = w.copy()
        w2[:, [0, 40, 95]] = 7.0
        other = gptq(w2, h, 4, 32, act_order=act)
        check(all(np.array_equal(a, b) for a, b in zip((c, s, z), other)),
              f"dead columns' weights change nothing (act_order {act})")

    # 5. Errors: a non-positive-definite H without damping; a NaN weight.
    w, h = correlated_case(rng, 4, 16, 64)
    bad_h = h.copy()
    bad_h[3, 3] = -1.0
    try:
        gptq(w, bad_h, 4, 0, damp=0.0)
        check(False, "indefinite H is an error")
    except GptqError as e:
        check("positive definite" in str(e), f"indefinite H is an error: {e}")
    w[2, 5] = np.nan
    try:
        gptq(w, h, 4, 0)
        check(False, "NaN weight is an error")
    except GptqError as e:
        check("[2, 5]" in str(e), f"NaN weight is an error: {e}")

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


# ---------------------------------------------------------------------------- CLI


def load(path, dtype, shape):
    if path.endswith(".npy"):
        a = np.load(path)
        return a.astype(dtype, copy=False)
    if shape is None:
        raise GptqError(f"{path}: raw input needs --rows and --cols")
    a = np.fromfile(path, dtype=np.dtype(dtype).newbyteorder("<"))
    n = shape[0] * shape[1]
    if a.size != n:
        raise GptqError(f"{path}: {a.size} values, expected {shape[0]} x {shape[1]} = {n}")
    return a.reshape(shape).astype(dtype)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--w")
    ap.add_argument("--h")
    ap.add_argument("--rows", type=int)
    ap.add_argument("--cols", type=int)
    ap.add_argument("--bits", type=int, default=4, choices=(2, 3, 4, 5, 6, 7, 8))
    ap.add_argument("--group", type=int, default=0)
    ap.add_argument("--damp", type=float, default=0.01)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--act-order", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--self-check", action="store_true")
    a = ap.parse_args(argv)
    if a.self_check:
        return self_check()
    if not (a.w and a.h and a.out):
        ap.error("--w, --h and --out are required")
    try:
        have_shape = a.rows is not None and a.cols is not None
        w = load(a.w, F32, (a.rows, a.cols) if have_shape else None)
        h = load(a.h, F64, (w.shape[1], w.shape[1]))
        codes, sbits, zeros = gptq(w, h, a.bits, a.group, a.damp, a.block, a.act_order)
    except GptqError as e:
        print(f"gptq_reference: {e}", file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    codes.tofile(os.path.join(a.out, "codes.u8"))
    sbits.astype("<u2").tofile(os.path.join(a.out, "scales.f16"))
    zeros.tofile(os.path.join(a.out, "zeros.u8"))
    w64 = w.astype(F64)
    try:
        lr = proxy_loss(w64, rtn(w64, a.bits, a.group)[3], h)
    except GptqError:
        lr = None
    print(json.dumps({"loss": proxy_loss(w64, dequantize(codes, sbits, zeros, a.group), h),
                      "rtn_loss": lr}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
