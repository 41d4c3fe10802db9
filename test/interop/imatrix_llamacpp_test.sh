#!/usr/bin/env bash
# `sutra quantize --calib` on a real llama.cpp importance matrix: scripts/llamacpp_imatrix.sh
# runs llama.cpp's own llama-imatrix (node-llama-cpp@3.22.1's llama.cpp, built by
# scripts/llamacpp_env.sh --tools) on stories260K over ../shared/text/tinystories_calib.txt
# and writes both layouts (GGUF and legacy imatrix.dat); then, for each:
#   - `sutra quantize stories260K-hf --calib FILE` (4-bit g32 on the linears) succeeds with AWQ
#     and the per-linear loss;
#   - the means it reads agree with sutra's own `sutra calibrate` mean x^2 on the same text
#     (both files read here by a parser written from the layout descriptions, independent of
#     sutra's): correlation >= 0.99 per matrix, relative difference <= 25% per channel (the two
#     tools cut the text into windows differently);
#   - the result has a lower mean KL than round-to-nearest on 4096 evaluation tokens.
# The CTest entry `interop_imatrix`.
#
# Usage: test/interop/imatrix_llamacpp_test.sh SUTRA_BINARY [SHARED_DIR]
# Exit status: 0 passed, 1 a check failed, 77 skipped (llama.cpp could not be installed or
# built: no node/npm/c++ or no registry; or no shared fixtures), 2 a usage error.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 SUTRA_BINARY [SHARED_DIR]" >&2
  exit 2
fi
sutra=$(realpath "$1")
shared=$(realpath "${2:-$here/../../../shared}")
model=$shared/models/stories260K-hf
calib=$shared/text/tinystories_calib.txt
evalt=$shared/text/tinystories_eval.txt
if [ ! -f "$model/model.safetensors" ] || [ ! -f "$calib" ]; then
  echo "skipped: no shared fixtures at $shared"
  exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sutra-imatrix-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

status=0
SUTRA_BIN=$sutra SUTRA_SHARED=$shared SUTRA_IMATRIX_DIR=$tmp/imatrix \
  bash "$here/../../scripts/llamacpp_imatrix.sh" >"$tmp/make.log" 2>&1 || status=$?
if [ "$status" = 77 ]; then
  echo "skipped: llama.cpp's llama-imatrix is not available here ($(tail -n 1 "$tmp/make.log"))"
  exit 77
elif [ "$status" != 0 ]; then
  cat "$tmp/make.log" >&2
  echo "imatrix_llamacpp_test: scripts/llamacpp_imatrix.sh failed ($status)" >&2
  exit 1
fi

"$sutra" calibrate "$model" --text "$calib" --tokens 0 -o "$tmp/stats.safetensors" >/dev/null
kl() {  # quantize flags... -> mean KL on 4096 evaluation tokens
  "$sutra" quantize "$model" -o "$tmp/q.qbin" --config "$here/../../configs/linears-4bit-g32.json" \
    --bits 4 --group-size 32 "$@" --force --json >"$tmp/q.json"
  "$sutra" validate "$tmp/q.qbin" --against "$model" --text "$evalt" --max-tokens 4096 \
    --json >"$tmp/v.json" || true
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["quality"]["mean_kl"])' \
    "$tmp/v.json"
}
rtn=$(kl --method rtn)
fail=0
for f in stories260K.imatrix stories260K.imatrix.dat; do
  awq=$(kl --calib "$tmp/imatrix/$f")
  /usr/bin/python3 - "$tmp/q.json" "$tmp/stats.safetensors" "$tmp/imatrix/$f" "$awq" "$rtn" <<'PY' || fail=1
import json, math, struct, sys
q, stats, imx, awq, rtn = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])

def sutra_mean_sq(path):  # safetensors: u64 header length, JSON header, data
    b = open(path, "rb").read()
    n = struct.unpack_from("<Q", b)[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k.endswith(".mean_sq"):
            s, e = v["data_offsets"]
            out[k[:-8]] = struct.unpack_from("<%df" % ((e - s) // 4), b, 8 + n + s)
    return out

def gguf_means(b):  # "GGUF" u32 version u64 n_tensors u64 n_kv, kvs, tensor infos, data (32-aligned)
    p = [4]
    def take(fmt):
        v = struct.unpack_from(fmt, b, p[0]); p[0] += struct.calcsize(fmt); return v[0]
    def string():
        n = take("<Q"); s = b[p[0]:p[0] + n]; p[0] += n; return s.decode()
    size = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    def value(t):
        if t == 8: return string()
        if t == 9:
            et, n = take("<I"), take("<Q"); return [value(et) for _ in range(n)]
        p[0] += size[t]
    take("<I"); nt, nk = take("<Q"), take("<Q")
    align = 32
    for _ in range(nk):
        k = string(); v = value(take("<I"))
        if k == "general.alignment": align = v
    infos = []
    for _ in range(nt):
        name = string(); dims = [take("<Q") for _ in range(take("<I"))]; take("<I")
        infos.append((name, dims, take("<Q")))
    start = (p[0] + align - 1) // align * align
    t = {}
    for name, dims, off in infos:
        t[name] = struct.unpack_from("<%df" % math.prod(dims), b, start + off)
    return {n[:-8]: [x / t[n[:-8] + ".counts"][0] for x in v] for n, v in t.items() if n.endswith(".in_sum2")}

def legacy_means(b):  # i32 n; per entry i32 len, name, i32 ncall, i32 nval, f32[nval] (mean * ncall)
    p, out = 4, {}
    for _ in range(struct.unpack_from("<i", b)[0]):
        n = struct.unpack_from("<i", b, p)[0]; name = b[p + 4:p + 4 + n].decode(); p += 4 + n
        ncall, nval = struct.unpack_from("<ii", b, p); p += 8
        out[name] = [x / ncall for x in struct.unpack_from("<%df" % nval, b, p)]; p += 4 * nval
    return out

b = open(imx, "rb").read()
means = gguf_means(b) if b[:4] == b"GGUF" else legacy_means(b)
hf = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
      "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
      "ffn_down": "mlp.down_proj"}
own = sutra_mean_sq(stats)
ok = True
worst_corr, worst_rel = 1.0, 0.0
for name, m in sorted(means.items()):
    _, layer, t, _ = name.split(".")
    s = own["model.layers.%s.%s" % (layer, hf[t])]
    mx, my = sum(m) / len(m), sum(s) / len(s)
    corr = sum((x - mx) * (y - my) for x, y in zip(m, s)) / math.sqrt(
        sum((x - mx) ** 2 for x in m) * sum((y - my) ** 2 for y in s))
    rel = max(abs(x - y) / y for x, y in zip(m, s))
    worst_corr, worst_rel = min(worst_corr, corr), max(worst_rel, rel)
    if corr < 0.99 or rel > 0.25:
        print(f"FAIL {imx}: {name}: correlation {corr:.5f}, max relative difference {rel:.3f}")
        ok = False
j = json.load(open(q))
if j["method"] != "awq" or j.get("awq_loss") != "per_linear" or len(means) != 35:
    print(f"FAIL {imx}: method {j['method']}, loss {j.get('awq_loss')}, {len(means)} matrices")
    ok = False
if not awq < rtn:
    print(f"FAIL {imx}: mean KL {awq:.5f} is not below round-to-nearest's {rtn:.5f}")
    ok = False
print(f"{'ok' if ok else 'FAIL'} {imx.rsplit('/', 1)[-1]}: {len(means)} matrices, against sutra "
      f"calibrate: worst correlation {worst_corr:.5f}, worst relative difference {worst_rel:.3f}; "
      f"mean KL {awq:.5f} (RTN {rtn:.5f})")
sys.exit(0 if ok else 1)
PY
done
exit $fail
