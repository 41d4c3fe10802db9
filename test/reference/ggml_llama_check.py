#!/usr/bin/env python3
"""sutra's GGUF blocks against llama.cpp's own ggml (libggml-base.so, e.g. from the npm
package @node-llama-cpp/linux-x64), loaded with ctypes:

usage: ggml_llama_check.py LIBGGML_BASE DIR ROWS COLS
  DIR holds x.f32 (ROWS x COLS values), imp.f32 (COLS importance weights) and, per type T,
  T.plain.bin / T.weighted.bin (sutra's encoding without / with importance) and
  T.plain.dec / T.weighted.dec (sutra's decoding of them, float32).

Checks (exit 1 when one fails):
  - the 32-value types without importance: sutra's bytes == quantize_row_T_ref's bytes;
  - every type: llama.cpp's dequantize_row_T of sutra's bytes == sutra's decoding, bit for bit.
Prints, per type, the MSE and importance-weighted MSE of sutra's encoding and of llama.cpp's
ggml_quantize_chunk (without / with the importance as its imatrix), over the realistic rows
(r % 8 < 5: gaussian and heavy-tailed; the others are edge rows for the byte checks).
"""
import ctypes
import sys

import numpy as np

TYPES = {  # name: (ggml type id, block elems, block bytes)
    "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22), "Q5_1": (7, 32, 24),
    "Q8_0": (8, 32, 34), "Q4_K": (12, 256, 144), "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210),
}

FP = ctypes.POINTER(ctypes.c_float)


def ptr(a, t=ctypes.c_float):
    return a.ctypes.data_as(ctypes.POINTER(t))


def main(argv):
    lib = ctypes.CDLL(argv[1])
    d, rows, cols = argv[2], int(argv[3]), int(argv[4])
    x = np.fromfile(f"{d}/x.f32", dtype="<f4").reshape(rows, cols)
    imp = np.fromfile(f"{d}/imp.f32", dtype="<f4")
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, FP, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, FP]
    ok = True
    print(f"{'type':5} {'sutra mse':>11} {'llama mse':>11} {'ratio':>6} | "
          f"{'sutra wmse':>11} {'llama wmse':>11} {'ratio':>6}   (imatrix = importance)")
    for name, (tid, be, bb) in TYPES.items():
        rb = cols // be * bb
        deq = getattr(lib, f"dequantize_row_{name[0].lower() + name[1:]}")
        deq.argtypes = [ctypes.c_void_p, FP, ctypes.c_int64]

        def llama_decode(buf):
            y = np.zeros(rows * cols, np.float32)
            deq(buf.ctypes.data, ptr(y), rows * cols)
            return y.reshape(rows, cols)

        for kind in ("plain", "weighted"):
            enc = np.fromfile(f"{d}/{name}.{kind}.bin", dtype=np.uint8)
            mine = np.fromfile(f"{d}/{name}.{kind}.dec", dtype="<f4").reshape(rows, cols)
            theirs = llama_decode(enc)
            if not np.array_equal(mine.view(np.uint32), theirs.view(np.uint32)):
                bad = np.argwhere(mine.view(np.uint32) != theirs.view(np.uint32))[0]
                print(f"FAIL {name} {kind}: llama.cpp decodes sutra's bytes differently at {bad}")
                ok = False
        if be == 32:
            ref = getattr(lib, f"quantize_row_{name[0].lower() + name[1:]}_ref")
            ref.argtypes = [FP, ctypes.c_void_p, ctypes.c_int64]
            out = np.zeros(rows * rb, np.uint8)
            xc = np.ascontiguousarray(x)
            ref(ptr(xc), out.ctypes.data, rows * cols)
            enc = np.fromfile(f"{d}/{name}.plain.bin", dtype=np.uint8)
            if not np.array_equal(out, enc):
                i = int(np.argwhere(out != enc)[0][0])
                print(f"FAIL {name}: sutra's unweighted bytes differ from quantize_row_ref "
                      f"at byte {i} (block {i // bb})")
                ok = False

        def llama_chunk(imatrix):
            out = np.zeros(rows * rb, np.uint8)
            xc = np.ascontiguousarray(x)
            lib.ggml_quantize_chunk(tid, ptr(xc), out.ctypes.data, 0, rows, cols,
                                    ptr(imatrix) if imatrix is not None else None)
            return llama_decode(out)

        real = np.arange(rows) % 8 < 5

        def mse(y, w=None):
            e = ((x.astype(np.float64) - y.astype(np.float64)) ** 2)[real]
            if w is None:
                return float(e.mean())
            return float((e * w[None, :]).sum() / (w.sum() * e.shape[0]))

        sp = np.fromfile(f"{d}/{name}.plain.dec", dtype="<f4").reshape(rows, cols)
        sw = np.fromfile(f"{d}/{name}.weighted.dec", dtype="<f4").reshape(rows, cols)
        lp, lw = llama_chunk(None), llama_chunk(np.ascontiguousarray(imp))
        a, b = mse(sp), mse(lp)
        c, e = mse(sw, imp), mse(lw, imp)
        print(f"{name:5} {a:11.4e} {b:11.4e} {a / b:6.3f} | {c:11.4e} {e:11.4e} {c / e:6.3f}")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
