#!/usr/bin/env python3
"""Writes the corrupt-input collection: test/corrupt/cases/ and test/corrupt/cases.json.

Usage: python3 test/corrupt/make_cases.py PATH/TO/sutra [--check]

Every file is made by hand from bytes, deterministically (no timestamps, no randomness), so a
rerun gives the same files. The .qbin cases start from a small valid .qbin that the given
`sutra` binary writes from a tiny checkpoint, then damage it; cases that must get past the
header checksum recompute it (XXH3-64, implemented below with the standard library only).
With --check, every case is also run through the binary and any difference from the expected
exit code or message is printed (the Catch2 test test/unit/corrupt/corrupt_cases_test.cpp does
the same with the full error contract).

cases.json is a list of {"name", "path" (relative to test/corrupt), "command" (inspect |
quantize | validate | dequantize), "expect_exit" (0, 1 or 2), "message" (a substring the error
must contain; empty for accepted cases), "why"}. An entry may also carry "bug": a description
of a known library bug that makes the case fail today (the test reports it by name).
"""

import json
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
U64_MAX = (1 << 64) - 1

# ---------------------------------------------------------------------------------------------
# XXH3-64, seed 0, default secret (xxHash 0.8), as QBIN.md section 4 uses it.

M64 = U64_MAX
P32_1, P32_2, P32_3 = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D
P64_1, P64_2, P64_3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
P64_4, P64_5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5
PMX1, PMX2 = 0x165667919E3779F9, 0x9FB21C651E98DF25
SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
    "eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e"
    "2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e")


def _r64(b, i):
    return int.from_bytes(b[i:i + 8], "little")


def _r32(b, i):
    return int.from_bytes(b[i:i + 4], "little")


def _fold(a, b):
    p = a * b
    return (p & M64) ^ (p >> 64)


def _avalanche(h):
    h ^= h >> 37
    h = (h * PMX1) & M64
    return h ^ (h >> 32)


def _xxh64_avalanche(h):
    h ^= h >> 33
    h = (h * P64_2) & M64
    h ^= h >> 29
    h = (h * P64_3) & M64
    return h ^ (h >> 32)


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _mix16(data, i, s):
    return _fold(_r64(data, i) ^ _r64(SECRET, s), _r64(data, i + 8) ^ _r64(SECRET, s + 8))


def xxh3_64(data: bytes) -> int:
    n = len(data)
    if n == 0:
        return _xxh64_avalanche(_r64(SECRET, 56) ^ _r64(SECRET, 64))
    if n <= 3:
        combined = (data[0] << 16) | (data[n >> 1] << 24) | data[n - 1] | (n << 8)
        return _xxh64_avalanche(combined ^ (_r32(SECRET, 0) ^ _r32(SECRET, 4)))
    if n <= 8:
        x = (_r32(data, n - 4) + (_r32(data, 0) << 32)) ^ (_r64(SECRET, 8) ^ _r64(SECRET, 16))
        x ^= _rotl(x, 49) ^ _rotl(x, 24)
        x = (x * PMX2) & M64
        x ^= (x >> 35) + n
        x = (x * PMX2) & M64
        return x ^ (x >> 28)
    if n <= 16:
        lo = _r64(data, 0) ^ (_r64(SECRET, 24) ^ _r64(SECRET, 32))
        hi = _r64(data, n - 8) ^ (_r64(SECRET, 40) ^ _r64(SECRET, 48))
        swapped = int.from_bytes(lo.to_bytes(8, "little"), "big")
        return _avalanche((n + swapped + hi + _fold(lo, hi)) & M64)
    if n <= 128:
        acc = (n * P64_1) & M64
        if n > 32:
            if n > 64:
                if n > 96:
                    acc += _mix16(data, 48, 96) + _mix16(data, n - 64, 112)
                acc += _mix16(data, 32, 64) + _mix16(data, n - 48, 80)
            acc += _mix16(data, 16, 32) + _mix16(data, n - 32, 48)
        acc += _mix16(data, 0, 0) + _mix16(data, n - 16, 16)
        return _avalanche(acc & M64)
    if n <= 240:
        acc = (n * P64_1) & M64
        for i in range(8):
            acc += _mix16(data, 16 * i, 16 * i)
        acc = _avalanche(acc & M64)
        for i in range(8, n // 16):
            acc += _mix16(data, 16 * i, 16 * (i - 8) + 3)
        acc += _mix16(data, n - 16, 119)
        return _avalanche(acc & M64)
    acc = [P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1]

    def stripe(off, s):
        for i in range(8):
            v = _r64(data, off + 8 * i)
            k = v ^ _r64(SECRET, s + 8 * i)
            acc[i ^ 1] = (acc[i ^ 1] + v) & M64
            acc[i] = (acc[i] + (k & 0xFFFFFFFF) * (k >> 32)) & M64

    per_block = (len(SECRET) - 64) // 8
    block = 64 * per_block
    nb_blocks = (n - 1) // block
    for b in range(nb_blocks):
        for s in range(per_block):
            stripe(b * block + 64 * s, 8 * s)
        for i in range(8):
            a = acc[i] ^ (acc[i] >> 47) ^ _r64(SECRET, len(SECRET) - 64 + 8 * i)
            acc[i] = (a * P32_1) & M64
    for s in range(((n - 1) - block * nb_blocks) // 64):
        stripe(nb_blocks * block + 64 * s, 8 * s)
    stripe(n - 64, len(SECRET) - 64 - 7)
    r = (n * P64_1) & M64
    for i in range(4):
        r += _fold(acc[2 * i] ^ _r64(SECRET, 11 + 16 * i),
                   acc[2 * i + 1] ^ _r64(SECRET, 19 + 16 * i))
    return _avalanche(r & M64)


# ---------------------------------------------------------------------------------------------
# Building safetensors files from bytes.

def u64(n):
    return struct.pack("<Q", n)


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def st(header, data=b"", length=None):
    """A safetensors file: 8-byte little-endian length (default: the header's), header, data."""
    if isinstance(header, str):
        header = header.encode()
    return u64(len(header) if length is None else length) + header + data


def one(dtype="F32", shape="[2]", offsets="[0,8]", name="a"):
    """The header text of one tensor: dtype as a Python value (a str or a number), shape and
    offsets as JSON text so they can be malformed, name as raw text."""
    return '{"%s":{"dtype":%s,"shape":%s,"data_offsets":%s}}' % (name, json.dumps(dtype), shape,
                                                                 offsets)


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def ramp_bytes(n, start=0):
    """n deterministic bytes."""
    return bytes((start * 17 + i * 29) % 256 for i in range(n))


def ramp(n, scale=0.01):
    """n deterministic finite F32 values."""
    return f32(*[((i * 37) % 101 - 50) * scale for i in range(n)])


def tensors_file(tensors, metadata=None, data_order=None, pad=0):
    """tensors: [(name, dtype, shape, data bytes)]. Data is laid out in data_order (default:
    header order), back to back; `pad` spaces follow the JSON."""
    order = data_order if data_order is not None else list(range(len(tensors)))
    offsets, pos = {}, 0
    for i in order:
        offsets[i] = (pos, pos + len(tensors[i][3]))
        pos += len(tensors[i][3])
    h = {}
    if metadata is not None:
        h["__metadata__"] = metadata
    for i, (name, dtype, shape, _) in enumerate(tensors):
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": list(offsets[i])}
    return st(compact(h) + b" " * pad, b"".join(tensors[i][3] for i in order))


# ---------------------------------------------------------------------------------------------
# The collection.

class Collection:
    def __init__(self):
        self.entries = []
        self.files = {}

    def write(self, rel, data):
        if rel in self.files:
            raise SystemExit("duplicate file " + rel)
        self.files[rel] = data
        return rel

    def case(self, name, rel, command, expect, message, why, bug=None):
        if expect != 0 and not message:
            raise SystemExit(name + ": a failing case needs a message")
        e = {"name": name, "path": "cases/" + rel, "command": command, "expect_exit": expect,
             "message": message, "why": why}
        if bug:
            e["bug"] = bug
        self.entries.append(e)

    def bad(self, rel, data, message, why, commands=("inspect", "quantize"), bug=None):
        """A malformed input (file bytes, or None for a folder already written): exit 2."""
        if data is not None:
            self.write(rel, data)
        stem = rel.rsplit(".", 1)[0] if data is not None else rel
        for c in commands:
            self.case(stem + ":" + c, rel, c, 2, message, why, bug)

    def good(self, rel, data, why, commands=("inspect", "quantize")):
        if data is not None:
            self.write(rel, data)
        stem = rel.rsplit(".", 1)[0] if data is not None else rel
        for c in commands:
            self.case(stem + ":" + c, rel, c, 0, "", why)


def header_length_cases(c):
    d = "header/"
    ok_h = one("F32", "[2]", "[0,8]")
    c.bad(d + "empty_file.safetensors", b"", "file is 0 bytes",
          "an empty file has no 8-byte length")
    c.bad(d + "seven_bytes.safetensors", b"\x02\x00\x00\x00\x00\x00\x00", "file is 7 bytes",
          "7 bytes total: the length prefix itself is cut short")
    c.bad(d + "length_zero.safetensors", u64(0) + b"{}", "header length is 0",
          "a zero header length cannot hold a JSON object")
    c.bad(d + "length_one.safetensors", u64(1) + b"{}", "header length is 1",
          "one byte cannot hold a JSON object")
    c.bad(d + "only_length.safetensors", u64(2), "runs past the end of the file",
          "an 8-byte file: the length says 2 header bytes follow, none do")
    c.bad(d + "length_past_eof.safetensors", st(ok_h, f32(1, 2), 1000),
          "header length 1000 runs past the end of the file",
          "the header length points past the end of the file")
    c.bad(d + "length_past_eof_by_one.safetensors",
          st(ok_h, f32(1, 2), len(ok_h) + 8 + 1), "runs past the end of the file",
          "the header length is one byte more than the whole rest of the file")
    c.bad(d + "length_above_cap.safetensors", st(ok_h, f32(1, 2), 100_000_001),
          "header length 100000001 exceeds the limit of 100000000",
          "one byte above the 100,000,000-byte header cap")
    c.bad(d + "length_at_cap.safetensors", st(ok_h, f32(1, 2), 100_000_000),
          "header length 100000000 runs past the end of the file",
          "exactly the cap is allowed, but this file is far shorter")
    c.bad(d + "length_u64_max.safetensors", st(ok_h, f32(1, 2), U64_MAX),
          "header length 18446744073709551615 exceeds the limit",
          "u64 max must not overflow 8 + N")
    c.bad(d + "length_high_bit.safetensors", st(ok_h, f32(1, 2), 1 << 63),
          "header length 9223372036854775808 exceeds the limit",
          "only the top bit set: a signed reader would see a negative length")
    big_endian = struct.pack(">Q", len(ok_h)) + ok_h.encode() + f32(1, 2)
    c.bad(d + "length_big_endian.safetensors", big_endian, "exceeds the limit",
          "the length written big-endian reads as a huge little-endian number")
    c.bad(d + "length_cuts_json.safetensors", st(ok_h, f32(1, 2), len(ok_h) - 3),
          "header is not valid JSON",
          "the length stops 3 bytes before the JSON ends; the rest would be data")
    c.bad(d + "length_swallows_data.safetensors", st(ok_h, f32(1, 0), len(ok_h) + 5),
          "NUL byte at header offset",
          "the length runs 5 bytes into the data, which holds NUL bytes")


def json_cases(c):
    d = "json/"
    begin = "the JSON header must begin with '{'"
    c.bad(d + "root_array.safetensors", st("[]"), begin, "the root is an array")
    c.bad(d + "root_string.safetensors", st('"tensors"'), begin, "the root is a string")
    c.bad(d + "root_number.safetensors", st("42"), begin, "the root is a number")
    c.bad(d + "root_null.safetensors", st("null"), begin, "the root is null")
    c.bad(d + "only_spaces.safetensors", st("        "), begin, "a header of spaces only")
    c.bad(d + "byte_order_mark.safetensors", st(b"\xef\xbb\xbf{}     "), "byte-order mark",
          "a UTF-8 BOM before the object (the JSON library would skip it silently)")
    c.bad(d + "nul_padding.safetensors", st(one() .encode() + b"\x00" * 6, f32(1, 2)),
          "NUL byte at header offset", "the header is padded with NUL bytes instead of spaces")
    c.bad(d + "nul_in_name.safetensors",
          st(one(name="a\x00b").encode(), f32(1, 2)), "NUL byte at header offset",
          "a raw NUL inside a tensor name (the JSON library would stop reading there)")
    c.bad(d + "nul_before_object.safetensors", st(b"\x00{}"), begin,
          "a NUL byte before the object")
    utf8 = "ill-formed UTF-8 byte"
    for stem, name, why in [
        ("utf8_invalid_byte", b"a\xffb", "a 0xFF byte in a tensor name is not UTF-8"),
        ("utf8_latin1", b"caf\xe9", "a Latin-1 encoded name (e-acute as one 0xE9 byte)"),
        ("utf8_overlong", b"a\xc0\xafb", "an overlong two-byte encoding of '/'"),
        ("utf8_surrogate", b"a\xed\xa0\x80b", "a UTF-8-encoded UTF-16 surrogate (CESU-8)"),
        ("utf8_truncated", b"a\xe2\x82", "a three-byte sequence cut after two bytes"),
        ("utf8_above_max", b"a\xf4\x90\x80\x80", "a code point above U+10FFFF"),
    ]:
        c.bad(d + stem + ".safetensors",
              st(b'{"' + name + b'":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
                 f32(1, 2)), utf8, why)
    c.bad(d + "utf8_invalid_metadata.safetensors",
          st(b'{"__metadata__":{"format":"p\xfe"}}'), utf8,
          "an invalid byte in a __metadata__ value")
    c.bad(d + "lone_escaped_surrogate.safetensors",
          st(one(name="\\ud800").encode(), f32(1, 2)), "surrogate",
          "a \\ud800 escape with no low surrogate after it")
    depth = 1000
    c.bad(d + "deep_nesting_root.safetensors", st("[" * depth + "]" * depth), begin,
          "1000 nested arrays as the root: refused at once, no recursion")
    c.bad(d + "deep_nesting_tensor.safetensors",
          st('{"a":' + "[" * depth + "]" * depth + "}"),
          "tensor 'a': expected an object, found an array",
          "1000 nested arrays as a tensor's value")
    c.bad(d + "deep_nesting_shape.safetensors",
          st('{"a":{"dtype":"F32","shape":' + "[" * depth + "]" * depth +
             ',"data_offsets":[0,0]}}'),
          "tensor 'a': shape entries must be whole numbers, found an array",
          "1000 nested arrays inside a shape")
    c.bad(d + "deep_nesting_metadata.safetensors",
          st('{"__metadata__":{"k":' + '{"k":' * depth + "1" + "}" * depth + "}}"),
          "__metadata__[\"k\"] must be a string, found an object",
          "1000 nested objects inside __metadata__")
    c.bad(d + "deep_nesting_field.safetensors",
          st('{"a":{"dtype":' + '{"x":' * depth + "1" + "}" * depth + "}}"),
          "tensor 'a': field dtype has the wrong type (an object)",
          "1000 nested objects as a dtype")
    c.bad(d + "duplicate_tensor.safetensors",
          st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
             '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(1, 2)),
          "duplicate tensor name \"a\"", "two tensors with the same name")
    c.bad(d + "duplicate_field.safetensors",
          st('{"a":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}}', f32(1, 2)),
          "tensor 'a': duplicate key \"dtype\"",
          "a tensor with two dtypes: which one is meant?")
    c.bad(d + "duplicate_offsets.safetensors",
          st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"data_offsets":[0,8]}}',
             f32(1, 2)),
          "tensor 'a': duplicate key \"data_offsets\"", "data_offsets given twice")
    c.bad(d + "duplicate_metadata.safetensors",
          st('{"__metadata__":{"a":"1"},"__metadata__":{"a":"2"}}'),
          "duplicate key \"__metadata__\"", "two __metadata__ objects")
    c.bad(d + "duplicate_metadata_key.safetensors",
          st('{"__metadata__":{"format":"pt","format":"np"}}'),
          "__metadata__: duplicate key \"format\"", "the same key twice in __metadata__")
    c.bad(d + "shape_negative.safetensors", st(one(shape="[-2]"), f32(1, 2)),
          "shape has the negative value -2", "a negative dimension")
    c.bad(d + "offsets_negative.safetensors", st(one(offsets="[-8,0]"), f32(1, 2)),
          "data_offsets has the negative value -8", "a negative begin offset")
    c.bad(d + "shape_fraction.safetensors", st(one(shape="[2.5]"), f32(1, 2)),
          "shape entry 2.5 is not a whole number", "a fractional dimension")
    c.bad(d + "shape_exponent.safetensors", st(one(shape="[2e0]"), f32(1, 2)),
          "shape entry 2e0 is not a whole number",
          "a dimension written with an exponent is a float in JSON")
    c.bad(d + "offsets_fraction.safetensors", st(one(offsets="[0,8.0]"), f32(1, 2)),
          "data_offsets entry 8.0 is not a whole number", "a fractional end offset")
    c.bad(d + "shape_2_64.safetensors", st(one(shape="[18446744073709551616]"), f32(1, 2)),
          "shape entry 18446744073709551616 is not a whole number in 0..2^64-1",
          "a dimension of 2^64, one past u64 max")
    c.bad(d + "shape_beyond_64_bits.safetensors",
          st(one(shape="[100000000000000000000000000000000000000]"), f32(1, 2)),
          "is not a whole number in 0..2^64-1", "a 39-digit dimension")
    c.bad(d + "offsets_2_64.safetensors",
          st(one(offsets="[0,18446744073709551616]"), f32(1, 2)),
          "data_offsets entry 18446744073709551616 is not a whole number in 0..2^64-1",
          "an end offset of 2^64")
    c.bad(d + "shape_string.safetensors", st(one(shape='["2"]'), f32(1, 2)),
          "shape entries must be whole numbers, found a string", "a dimension given as text")
    c.bad(d + "shape_bool.safetensors", st(one(shape="[true]"), f32(1, 2)),
          "shape entries must be whole numbers, found a boolean", "a boolean dimension")
    c.bad(d + "shape_null.safetensors", st(one(shape="[null]"), f32(1, 2)),
          "shape entries must be whole numbers, found null", "a null dimension")
    c.bad(d + "shape_not_array.safetensors", st(one(shape="2"), f32(1, 2)),
          "field shape has the wrong type (a number)", "shape as a bare number")
    c.bad(d + "offsets_not_array.safetensors", st(one(offsets='"0-8"'), f32(1, 2)),
          "field data_offsets has the wrong type (a string)", "data_offsets as a string")
    c.bad(d + "offsets_three.safetensors", st(one(offsets="[0,4,8]"), f32(1, 2)),
          "data_offsets must have exactly 2 entries", "three offsets")
    c.bad(d + "offsets_one.safetensors", st(one(offsets="[8]"), f32(1, 2)),
          "data_offsets must have exactly 2 entries", "only an end offset")
    c.bad(d + "missing_dtype.safetensors",
          st('{"a":{"shape":[2],"data_offsets":[0,8]}}', f32(1, 2)),
          "tensor 'a': missing field", "no dtype")
    c.bad(d + "missing_offsets.safetensors", st('{"a":{"dtype":"F32","shape":[2]}}', f32(1, 2)),
          "tensor 'a': missing field", "no data_offsets")
    c.bad(d + "unknown_field.safetensors",
          st('{"a":{"dtype":"F32","shape":[2],"offsets":[0,8]}}', f32(1, 2)),
          "tensor 'a': missing field data_offsets",
          "a misspelled field name: ignored as unknown, as the reference does, so data_offsets "
          "is missing (the message names the unknown field)")
    c.bad(d + "deep_nesting_unknown_field.safetensors",
          st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":' + "[" * 200 +
             "]" * 200 + "}}", f32(1, 2)),
          "tensor 'a': field \"x\" nests deeper than 127 levels",
          "an unknown field nested 200 levels deep (serde_json, which the reference uses, stops "
          "at 128)")
    c.bad(d + "metadata_null_twice.safetensors", st('{"__metadata__":null,"__metadata__":{}}'),
          "duplicate key \"__metadata__\"", "__metadata__ given twice, once as null")
    c.bad(d + "tensor_not_object.safetensors", st('{"a":5}'),
          "tensor 'a': expected an object, found a number", "a tensor given as a number")
    c.bad(d + "metadata_value_number.safetensors", st('{"__metadata__":{"step":1000}}'),
          "__metadata__[\"step\"] must be a string, found a number",
          "__metadata__ values must be strings")
    c.bad(d + "metadata_not_object.safetensors", st('{"__metadata__":"pt"}'),
          "__metadata__ must be an object of strings", "__metadata__ as a string")
    bad_json = "header is not valid JSON"
    c.bad(d + "trailing_garbage.safetensors", st(one() + " x", f32(1, 2)), bad_json,
          "text after the object (only spaces may follow)")
    c.bad(d + "two_objects.safetensors", st("{}{}"), bad_json, "two JSON objects")
    c.bad(d + "truncated_object.safetensors",
          st('{"a":{"dtype":"F32","shape":[2]         ', f32(1, 2)), bad_json,
          "the object is never closed")
    c.bad(d + "trailing_comma.safetensors",
          st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},}', f32(1, 2)), bad_json,
          "a trailing comma")
    c.bad(d + "comment.safetensors", st("{/* no tensors */}"), bad_json,
          "a comment (JSON has none)")
    c.bad(d + "single_quotes.safetensors", st("{'a':{}}"), bad_json, "single-quoted keys")
    c.bad(d + "nan_literal.safetensors", st(one(shape="[NaN]"), f32(1, 2)), bad_json,
          "NaN is not JSON")
    c.bad(d + "control_character.safetensors", st(one(name="a\x01b"), f32(1, 2)), bad_json,
          "a raw control character inside a name")


def dtype_shape_cases(c):
    d = "dtype_shape/"
    known = "unknown dtype"
    c.bad(d + "dtype_unknown.safetensors", st(one("F12"), f32(1, 2)), known + " \"F12\"",
          "F12 is no dtype")
    c.bad(d + "dtype_lower_case.safetensors", st(one("f32"), f32(1, 2)),
          known + " \"f32\"; did you mean \"F32\"?",
          "dtypes are upper case in safetensors; the reference refuses f32 too")
    c.bad(d + "dtype_empty.safetensors", st(one(""), f32(1, 2)), known + " \"\"",
          "an empty dtype")
    c.bad(d + "dtype_gguf_name.safetensors", st(one("Q4_0", "[32]", "[0,18]"), bytes(18)),
          known + " \"Q4_0\"", "a GGUF quant type is not a safetensors dtype")
    c.bad(d + "dtype_torch_name.safetensors", st(one("float32"), f32(1, 2)),
          known + " \"float32\"; safetensors spells it \"F32\"", "a PyTorch dtype name")
    c.bad(d + "dtype_spaces.safetensors", st(one(" F32"), f32(1, 2)),
          known + " \" F32\"; did you mean \"F32\"?", "a dtype with a leading space")
    c.bad(d + "dtype_torch_fp8_name.safetensors", st(one("F8_E4M3FN", "[2]", "[0,2]"), bytes(2)),
          known + " \"F8_E4M3FN\"; safetensors spells it \"F8_E4M3\"",
          "PyTorch's name float8_e4m3fn; safetensors writes F8_E4M3")
    c.bad(d + "f4_odd_count.safetensors", st(one("F4", "[3]", "[0,2]"), bytes(2)),
          "tensor 'a': 3 F4 values of 4 bits are not a whole number of bytes",
          "three 4-bit values; the reference refuses a tensor that ends inside a byte")
    c.bad(d + "f6_not_whole_bytes.safetensors", st(one("F6_E2M3", "[2]", "[0,2]"), bytes(2)),
          "tensor 'a': 2 F6_E2M3 values of 6 bits are not a whole number of bytes",
          "two 6-bit values are 12 bits")
    c.bad(d + "f4_sized_as_bytes.safetensors", st(one("F4", "[4]", "[0,4]"), bytes(4)),
          "hold 4 bytes but dtype F4 and its shape need 2",
          "four F4 values take 2 bytes, not one byte each")
    c.bad(d + "dtype_number.safetensors", st(one(32), f32(1, 2)),
          "tensor 'a': field dtype has the wrong type (a number)", "a dtype given as a number")
    c.bad(d + "shape_product_overflow.safetensors",
          st(one(shape="[4294967296,4294967296,2]", offsets="[0,0]")),
          "tensor 'a': shape product overflows 64 bits", "2^32 x 2^32 x 2 elements")
    c.bad(d + "byte_size_overflow.safetensors",
          st(one(shape="[4611686018427387904]", offsets="[0,0]")),
          "tensor 'a': byte size overflows 64 bits", "2^62 F32 elements need 2^64 bytes")
    c.bad(d + "shape_u64_max.safetensors", st(one("U8", "[18446744073709551615]", "[0,8]"),
                                              f32(1, 2)),
          "hold 8 bytes but dtype U8 and its shape need 18446744073709551615",
          "a dimension of u64 max is read exactly, and does not fit")
    c.bad(d + "size_mismatch.safetensors", st(one(shape="[2,2]", offsets="[0,12]"), bytes(12)),
          "tensor 'a': data_offsets [0, 12) hold 12 bytes but dtype F32 and its shape need 16",
          "[2,2] F32 needs 16 bytes, the offsets give 12")
    c.bad(d + "size_mismatch_f16.safetensors", st(one("F16", "[3]", "[0,12]"), bytes(12)),
          "hold 12 bytes but dtype F16 and its shape need 6",
          "offsets sized as if F16 were 4 bytes")
    c.bad(d + "size_mismatch_zero_dim.safetensors", st(one(shape="[0,4]", offsets="[0,16]"),
                                                      bytes(16)),
          "hold 16 bytes but dtype F32 and its shape need 0", "an empty tensor with 16 bytes")
    c.bad(d + "size_mismatch_scalar.safetensors", st(one(shape="[]", offsets="[0,0]")),
          "hold 0 bytes but dtype F32 and its shape need 4", "a scalar has one element")


def offsets_cases(c):
    d = "offsets/"

    def two(a_off, b_off, data_len):
        return st('{"a":{"dtype":"F32","shape":[4],"data_offsets":%s},'
                  '"b":{"dtype":"F32","shape":[4],"data_offsets":%s}}' % (a_off, b_off),
                  bytes(data_len))

    c.bad(d + "gap.safetensors", two("[0,16]", "[20,36]", 36),
          "gap of 4 bytes before tensor 'b' (data offset 16)", "4 unused bytes between tensors")
    c.bad(d + "gap_at_start.safetensors", two("[4,20]", "[20,36]", 36),
          "gap of 4 bytes before tensor 'a' (data offset 0)",
          "the first tensor does not start at the data")
    c.bad(d + "offsets_from_file_start.safetensors",
          st(one(shape="[2]", offsets="[64,72]"), bytes(72)),
          "gap of 64 bytes before tensor 'a'",
          "offsets counted from the start of the file instead of the data (a writer bug)")
    c.bad(d + "overlap.safetensors", two("[0,16]", "[8,24]", 24),
          "tensor 'b' overlaps the previous tensor (begins at 8, previous ends at 16)",
          "b starts inside a")
    c.bad(d + "same_offsets.safetensors", two("[0,16]", "[0,16]", 16), "overlaps",
          "two tensors share the same bytes")
    c.bad(d + "empty_inside_other.safetensors",
          st('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
             '"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}', bytes(16)),
          "tensor 'e' overlaps", "a zero-size tensor placed inside another tensor's bytes")
    c.bad(d + "end_before_begin.safetensors", st(one(shape="[4]", offsets="[16,0]"), bytes(16)),
          "tensor 'a': data_offsets end 0 is before begin 16", "begin > end")
    c.bad(d + "past_data.safetensors", st(one(shape="[4]", offsets="[0,16]"), bytes(8)),
          "tensor 'a': data_offsets end 16 is past the data length 8",
          "the tensor ends 8 bytes after the file")
    c.bad(d + "empty_past_data.safetensors", st(one(shape="[0]", offsets="[100,100]")),
          "tensor 'a': data_offsets end 100 is past the data length 0",
          "even an empty tensor must lie inside the data")
    c.bad(d + "offsets_near_u64_max.safetensors",
          st(one("U8", "[15]", "[18446744073709551600,18446744073709551615]"), bytes(15)),
          "data_offsets end 18446744073709551615 is past the data length 15",
          "offsets near u64 max must not wrap around")
    c.bad(d + "trailing_bytes.safetensors", st(one(shape="[2]", offsets="[0,8]"), bytes(12)),
          "4 trailing bytes after the last tensor", "4 bytes no tensor accounts for")
    c.bad(d + "no_tensors_but_data.safetensors", st("{}", bytes(16)),
          "16 trailing bytes after the last tensor", "data bytes but no tensor")
    full = tensors_file([("a", "F32", [4], ramp(4)), ("b", "F32", [4], ramp(4))])
    c.bad(d + "truncated_data.safetensors", full[:-6],
          "tensor 'b': data_offsets end 32 is past the data length 26",
          "the file was cut 6 bytes short (an interrupted download)")


def shard_cases(c):
    d = "shards/"
    idx = "model.safetensors.index.json"
    s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    a = ("model.layers.0.mlp.up_proj.weight", "F32", [4, 32], ramp(128))
    b = ("model.norm.weight", "F32", [32], ramp(32))

    def folder(name, index, shards, message, why, bug=None):
        for fname, data in shards.items():
            c.write(d + name + "/" + fname, data)
        if index is not None:
            c.write(d + name + "/" + idx, index if isinstance(index, bytes) else compact(index))
        c.bad(d + name, None, message, why, bug=bug)

    ok_shards = {s1: tensors_file([a]), s2: tensors_file([b])}
    wm = {a[0]: s1, b[0]: s2}
    folder("missing_shard", {"weight_map": wm}, {s1: ok_shards[s1]},
           "shard \"%s\" is missing" % s2, "the index names a shard that is not there")
    folder("tensor_in_two_shards", {"weight_map": wm},
           {s1: tensors_file([a, b]), s2: tensors_file([b])},
           "tensor 'model.norm.weight' is listed in",
           "both shards hold model.norm.weight; the index puts it in the second")
    folder("index_only_tensor", {"weight_map": dict(wm, **{"lm_head.weight": s2})}, ok_shards,
           "tensor 'lm_head.weight' is listed under shard \"%s\" but that shard does not hold it"
           % s2, "the index names a tensor its shard does not hold")
    folder("shard_only_tensor", {"weight_map": {a[0]: s1}},
           {s1: tensors_file([a, b])}, "tensor 'model.norm.weight' is not listed in",
           "a shard holds a tensor the index does not name")
    folder("dotdot_path", {"weight_map": {a[0]: "../" + s1}}, {s1: ok_shards[s1]},
           "leaves the model folder ('..' is not allowed)", "a shard path that climbs out")
    folder("dotdot_inside", {"weight_map": {a[0]: "sub/../../" + s1}}, {s1: ok_shards[s1]},
           "leaves the model folder", "'..' hidden in the middle of a path")
    folder("absolute_path", {"weight_map": {a[0]: "/etc/passwd"}}, {s1: ok_shards[s1]},
           "shard path \"/etc/passwd\" must be relative", "an absolute shard path")
    folder("empty_shard_name", {"weight_map": {a[0]: ""}}, {s1: ok_shards[s1]},
           "shard path \"\" must be relative", "an empty shard file name")
    need = "not a shard index (needs an object \"weight_map\")"
    folder("weight_map_array", {"weight_map": [a[0], s1]}, ok_shards, need,
           "weight_map is an array")
    folder("weight_map_string", {"weight_map": s1}, ok_shards, need, "weight_map is a string")
    folder("no_weight_map", {"metadata": {"total_size": 640}}, ok_shards, need,
           "an index without weight_map")
    folder("index_root_array", [{"weight_map": wm}], ok_shards, need, "the index is an array")
    folder("weight_map_empty", {"weight_map": {}}, ok_shards, "weight_map lists no tensors",
           "an index that lists nothing")
    folder("weight_map_value_number", {"weight_map": {a[0]: 1}}, ok_shards,
           "weight_map[\"%s\"] must be a shard file name" % a[0], "a shard given as a number")
    folder("index_duplicate_key",
           ('{"weight_map":{"%s":"%s","%s":"%s"}}' % (a[0], s1, a[0], s2)).encode(), ok_shards,
           "duplicate key \"%s\"" % a[0], "the index lists a tensor twice, in two shards")
    folder("index_invalid_json", b'{"weight_map":{', ok_shards, "not valid JSON",
           "an index cut short")
    folder("index_byte_order_mark", b"\xef\xbb\xbf" + compact({"weight_map": wm}), ok_shards,
           "byte-order mark", "an index saved with a BOM")
    folder("index_nul", compact({"weight_map": wm}) + b"\x00", ok_shards, "NUL byte",
           "an index with a trailing NUL")
    deep = b'{"weight_map":' + compact(wm) + b',"metadata":' + b'{"k":' * 20 + b'1' + \
        b"}" * 20 + b"}"
    folder("index_deep_nesting", deep, ok_shards, "nesting deeper than 8 levels",
           "20 nested objects in the index")
    folder("index_names_itself", {"weight_map": {a[0]: idx}}, {},
           "a JSON text file, not a safetensors file",
           "the index names itself as a shard: it is read as safetensors and refused")
    bad_shard = st(one("f32", "[2]", "[0,8]", name=a[0]), f32(1, 2))
    folder("shard_bad_header", {"weight_map": {a[0]: s1, b[0]: s2}},
           {s1: bad_shard, s2: ok_shards[s2]}, s1 + ": invalid safetensors header",
           "a shard's own header is malformed: the error names the shard")
    folder("two_files_no_index", None, ok_shards,
           "holds 2 .safetensors files but no model.safetensors.index.json",
           "two checkpoints in one folder and no index to join them")
    c.write(d + "no_checkpoint/config.json", b'{"model_type":"llama"}\n')
    c.bad(d + "no_checkpoint", None, "folder holds no *.safetensors file",
          "a model folder without weights")
    c.write(d + "config_as_model/config.json", b'{"model_type":"llama","hidden_size":64}\n')
    c.bad(d + "config_as_model/config.json", None, need,
          "a config.json passed as the model is read as an index and refused")


def other_format_cases(c):
    d = "other_formats/"
    lfs = (b"version https://git-lfs.github.com/spec/v1\n"
           b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
           b"size 2200119864\n")
    c.bad(d + "git_lfs_pointer.safetensors", lfs,
          "this is a Git LFS pointer, not the weights (the real file has 2200119864 bytes); "
          "run `git lfs pull`", "a Git LFS pointer (the weights were never pulled)")
    zipped = (b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00!\x00" + bytes(12) +
              b"\x16\x00\x00\x00archive/data.pkl" + bytes(64))
    c.bad(d + "zip.safetensors", zipped,
          "a PyTorch zip checkpoint (pytorch_model.bin), not safetensors; convert it to "
          "safetensors first", "a ZIP archive holding data.pkl (a PyTorch >= 1.6 checkpoint)")
    plain_zip = b"PK\x03\x04\x14\x00\x00\x00\x00\x00" + bytes(16) + b"\x0a\x00\x00\x00README.txt"
    c.bad(d + "plain_zip.zip", plain_zip, "a ZIP archive, not a safetensors file; unpack it",
          "a ZIP archive of something else")
    pickle = (b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.\x80\x02}q\x00"
              b"(X\x10\x00\x00\x00protocol_versionq\x01M\xe9\x03X\r\x00\x00\x00"
              b"little_endianq\x02\x88u.")
    c.bad(d + "pytorch_pickle.bin", pickle,
          "a Python pickle (a legacy PyTorch checkpoint, pytorch_model.bin), not safetensors; "
          "convert it", "a legacy PyTorch pickle (\\x80\\x02)")
    gguf = (b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + struct.pack("<Q", 20) +
            b"general.architecture" + struct.pack("<IQ", 8, 5) + b"llama" + bytes(32))
    c.bad(d + "model.gguf", gguf, "a GGUF file (llama.cpp); sutra reads safetensors",
          "a GGUF file")
    html = (b"<!DOCTYPE html>\n<html><head><title>Hugging Face - 404</title></head>"
            b"<body><h1>404</h1><p>Entry not found</p></body></html>\n")
    c.bad(d + "html_page.safetensors", html, "an HTML page (a failed download?), not the weights",
          "an HTML error page saved as the weights")
    c.bad(d + "html_lowercase.safetensors", b"\n  <html>\n<body>Moved</body></html>\n",
          "an HTML page (a failed download?)", "an HTML page after blank lines, lower case")
    npy = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }" + \
        b" " * 50 + b"\n" + f32(1, 2)
    c.bad(d + "numpy.npy", npy, "a NumPy .npy array, not a safetensors file", "a NumPy .npy array")
    gzip = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(40)) + bytes(8))
    c.bad(d + "gzipped.safetensors.gz", gzip, "a gzip-compressed file; decompress it first",
          "a gzip-compressed checkpoint (its first bytes would read as a 559,903-byte header)")
    c.bad(d + "header_without_length.safetensors", one().encode() + f32(1, 2),
          "a JSON text file, not a safetensors file",
          "the JSON header without its 8-byte length prefix")
    c.bad(d + "json_text.safetensors", b"{}", "a JSON text file, not a safetensors file",
          "a bare '{}' text file named .safetensors")
    c.bad(d + "text_file.safetensors", b"Entry not found\n",
          "a text file, not a safetensors file (it begins \"Entry not found\"",
          "the text a download tool saved from an error reply")
    c.bad(d + "short_binary.safetensors", b"\x01\x02\x03\x04\x05\x06\x07\x08\x09",
          "header length 578437695752307201 exceeds the limit",
          "bytes in no known format: the safetensors error stays")


def accepted_cases(c):
    d = "accept/"
    c.good(d + "empty_object.safetensors", st("{}"), "no tensors at all: `{}`")
    c.good(d + "empty_metadata.safetensors", st('{"__metadata__":{}}'),
           "only an empty __metadata__")
    c.good(d + "metadata_only.safetensors", st('{"__metadata__":{"format":"pt"}}'),
           "metadata and no tensors")
    c.good(d + "zero_size_only.safetensors", st(one(shape="[0]", offsets="[0,0]")),
           "one tensor of zero elements, no data")
    c.good(d + "zero_size_2d.safetensors",
           tensors_file([("model.layers.0.mlp.up_proj.weight", "F32", [0, 64], b""),
                         ("model.layers.0.mlp.down_proj.weight", "F16", [64, 0], b""),
                         ("model.norm.weight", "F32", [4], ramp(4))]),
           "2-D weights with a zero dimension are stored unchanged")
    c.good(d + "zero_size_between.safetensors",
           tensors_file([("a", "F32", [1], f32(1)), ("empty", "F16", [0, 5], b""),
                         ("b", "F32", [1], f32(2)), ("last_empty", "I8", [3, 0], b"")]),
           "zero-size tensors between and after others, sharing offsets")
    c.good(d + "zero_dim_beside_u64_max.safetensors",
           st(one(shape="[0,18446744073709551615]", offsets="[0,0]")),
           "a zero dimension makes the product 0 even beside u64 max")
    c.good(d + "scalar.safetensors", tensors_file([("step", "I64", [], struct.pack("<q", 1000)),
                                                   ("scale", "F32", [], f32(0.5))]),
           "scalar tensors: shape []")
    c.good(d + "whitespace_padded.safetensors",
           tensors_file([("model.norm.weight", "F32", [4], ramp(4))], pad=37),
           "37 spaces after the JSON, as the safetensors spec allows")
    c.good(d + "unaligned_header.safetensors",
           st(one(shape="[3]", offsets="[0,12]", name="bias"), ramp(3)),
           "a header length that is not a multiple of 8 (data not 8-byte aligned)")
    c.good(d + "data_order_differs.safetensors",
           tensors_file([("model.layers.0.mlp.up_proj.weight", "F32", [4, 32], ramp(128)),
                         ("model.norm.weight", "F32", [32], ramp(32, 0.02)),
                         ("lm_head.weight", "F32", [8, 32], ramp(256, 0.03))],
                        data_order=[2, 0, 1]),
           "the data is stored in another order than the header lists the tensors")
    c.good(d + "rank_8.safetensors", st(one(shape="[1,1,1,1,1,1,1,2]"), f32(1, 2)),
           "rank 8")
    c.good(d + "rank_9.safetensors", st(one(shape="[" + ",".join(["1"] * 9) + "]",
                                            offsets="[0,4]"), f32(1)),
           "rank 9: the reference has no rank limit")
    c.good(d + "rank_100.safetensors", st(one(shape="[" + ",".join(["1"] * 99) + ",2]",
                                              offsets="[0,8]"), f32(1, 2)),
           "100 dimensions, stored unchanged")
    # Every dtype of the current format (the reference's Dtype), with its size in bits.
    bits = [("BOOL", 8), ("F4", 4), ("F6_E2M3", 6), ("F6_E3M2", 6), ("U8", 8), ("I8", 8),
            ("F8_E5M2", 8), ("F8_E4M3", 8), ("F8_E8M0", 8), ("F8_E4M3FNUZ", 8),
            ("F8_E5M2FNUZ", 8), ("I16", 16), ("U16", 16), ("F16", 16), ("BF16", 16), ("I32", 32),
            ("U32", 32), ("F32", 32), ("C64", 64), ("F64", 64), ("I64", 64), ("U64", 64)]
    c.good(d + "every_dtype.safetensors",
           tensors_file([("t." + n.lower(), n, [8], ramp_bytes(8 * b // 8, i))
                         for i, (n, b) in enumerate(bits)]),
           "8 values of every dtype of the current safetensors format, F4/F6 packed")
    c.good(d + "new_dtypes_weights.safetensors",
           tensors_file([("model.layers.0.mlp.up_proj.weight", "F8_E4M3", [4, 64],
                          ramp_bytes(256)),
                         ("model.layers.0.mlp.up_proj.weight_scale_inv", "F8_E8M0", [1, 2],
                          b"\x7f\x80"),
                         ("model.layers.0.mlp.down_proj.weight", "F4", [64, 2], ramp_bytes(64)),
                         ("model.layers.0.mlp.gate_proj.weight", "F6_E3M2", [4, 4],
                          ramp_bytes(12)),
                         ("rotary.freqs", "C64", [3], ramp_bytes(24)),
                         ("model.norm.weight", "F32", [4], ramp(4))]),
           "FP8 / MX FP4 / FP6 / complex weights and scales pass through unchanged")
    c.good(d + "extra_fields.safetensors",
           st('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"quant":{"bits":[4,8]},'
              '"note":null,"x":1,"x":"again"},"v":{"data_offsets":[8,12],"shape":[1],'
              '"dtype":"F32","offset":[999]}}', f32(1, 2, 3)),
           "unknown fields in tensor entries (nested, null, repeated) are ignored, as the "
           "reference ignores them")
    c.good(d + "extra_field_nested_125.safetensors",
           st('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":' + "[" * 125 +
              "]" * 125 + "}}", f32(1)),
           "an unknown field nested 125 levels (127 in all: serde_json's limit)")
    c.good(d + "metadata_null.safetensors",
           st('{"__metadata__":null,"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
              f32(1, 2)),
           "\"__metadata__\": null is no metadata, as in the reference")
    c.good(d + "negative_zero.safetensors",
           st('{"w":{"dtype":"F32","shape":[-0,4],"data_offsets":[-0,0]},'
              '"v":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1)),
           "-0 in a shape and an offset is the number 0 (serde_json reads it so)")
    c.good(d + "unicode_names.safetensors",
           tensors_file([("model.层.weight", "F32", [2], f32(1, 2)),
                         ("caf\u00e9 \"quoted\" \\ name", "F32", [2], f32(3, 4)),
                         ("", "U8", [1], b"\x07")],
                        metadata={"note": "ünïcödé ✓", "empty": ""}),
           "non-ASCII, quoted and empty tensor names, non-ASCII metadata")
    c.good(d + "escaped_names.safetensors",
           st('{"a\\u0000b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
              '"\\u00e9\\t\\"x\\/":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},'
              '"\\ud83d\\ude00":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
              f32(1, 2, 3)),
           "tensor names written with JSON escapes: an escaped NUL, tab, quote, slash, and a "
           "surrogate pair")
    c.good(d + "fields_any_order.safetensors",
           st('{ "b" : { "data_offsets" : [ 8 , 16 ] , "shape" : [ 2 ] , "dtype" : "F32" } ,'
              ' "__metadata__" : { "format" : "pt" } ,\n'
              ' "a" : { "shape" : [ 2 ] , "dtype" : "F32" , "data_offsets" : [ 0 , 8 ] } }',
              f32(1, 2, 3, 4)),
           "whitespace inside the JSON, fields in any order, metadata after a tensor")
    c.good(d + "tiny_weights.safetensors",
           tensors_file([("model.layers.0.mlp.up_proj.weight", "F32", [1, 1], f32(0.25)),
                         ("model.layers.0.mlp.gate_proj.weight", "F16", [3, 40],
                          struct.pack("<120e", *[(i % 7 - 3) * 0.125 for i in range(120)])),
                         ("model.layers.0.self_attn.q_proj.weight", "BF16", [2, 33],
                          b"".join(struct.pack("<f", (i % 5 - 2) * 0.5)[2:]
                                   for i in range(66)))]),
           "a 1x1 weight and F16/BF16 weights whose width is no multiple of the group size")
    # Sharded, well formed.
    s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    a = ("model.layers.0.mlp.up_proj.weight", "F32", [4, 32], ramp(128))
    b = ("model.norm.weight", "F32", [32], ramp(32))
    index = {"metadata": {"total_size": 640}, "weight_map": {a[0]: s1, b[0]: s2}}
    c.write(d + "sharded/" + s1, tensors_file([a], metadata={"format": "pt"}))
    c.write(d + "sharded/" + s2, tensors_file([b], metadata={"format": "pt"}))
    c.write(d + "sharded/model.safetensors.index.json", compact(index))
    c.good(d + "sharded", None, "a model folder with an index (with metadata) and two shards")
    c.good(d + "sharded/model.safetensors.index.json", None, "the index file given directly")
    c.write(d + "shard_in_subfolder/weights/" + s1, tensors_file([a, b]))
    c.write(d + "shard_in_subfolder/model.safetensors.index.json",
            compact({"weight_map": {a[0]: "weights/" + s1, b[0]: "weights/" + s1}}))
    c.good(d + "shard_in_subfolder", None,
           "a shard path relative to the index's folder, in a subfolder")


# ---------------------------------------------------------------------------------------------
# .qbin cases.

class Qbin:
    """A parsed .qbin: header object (key order kept), profile, and each tensor's bytes."""

    def __init__(self, raw):
        n = struct.unpack("<Q", raw[:8])[0]
        self.header = json.loads(raw[8:8 + n].decode())
        data = raw[8 + n:]
        meta = self.header["__metadata__"]
        self.profile = json.loads(meta["sutra.profile"])
        self.tensors = []  # [name, entry without offsets, bytes]
        for k, v in self.header.items():
            if k == "__metadata__":
                continue
            b, e = v["data_offsets"]
            self.tensors.append([k, {"dtype": v["dtype"], "shape": v["shape"]}, data[b:e]])

    def record(self, name):
        return next(r for r in self.profile["tensors"] if r["name"] == name)

    def build(self, pad_byte=b" ", checksum=True, meta=None, post=None):
        """Serializes compactly (then applies `post` to the header text, if given), pads so
        8 + N is a multiple of 8 (at least one byte when pad_byte is not a space), and writes a
        correct header checksum unless told not to."""
        if meta is None:
            meta = {"sutra.profile": json.dumps(self.profile, separators=(",", ":"),
                                                ensure_ascii=False),
                    "sutra.header_xxh3": "0" * 16}
        h = {"__metadata__": meta}
        pos = 0
        for name, entry, data in self.tensors:
            h[name] = dict(entry, data_offsets=[pos, pos + len(data)])
            pos += len(data)
        text = compact(h)
        if post:
            text = post(text)
        pad = (-(8 + len(text))) % 8
        if pad == 0 and pad_byte != b" ":
            pad = 8
        text += pad_byte * pad
        out = bytearray(u64(len(text)) + text + b"".join(t[2] for t in self.tensors))
        needle = b'"sutra.header_xxh3":"'
        at = out.find(needle)
        if checksum and at >= 0 and out.find(needle, at + 1) < 0:
            digits = at + len(needle)
            out[digits:digits + 16] = b"%016x" % xxh3_64(bytes(out[:8 + len(text)]))
        return bytes(out)


def make_source_checkpoint():
    return tensors_file([("model.layers.0.mlp.up_proj.weight", "F32", [4, 64], ramp(256)),
                         ("model.norm.weight", "F32", [64], ramp(64, 0.05))],
                        metadata={"format": "pt"})


def qbin_cases(c, sutra):
    d = "qbin/"
    src = make_source_checkpoint()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "source.safetensors").write_bytes(src)
        out = Path(tmp) / "good.qbin"
        subprocess.run([sutra, "-q", "quantize", str(Path(tmp) / "source.safetensors"), "-o",
                        str(out), "--method", "rtn", "--bits", "4", "--group-size", "32"],
                       check=True, stdout=subprocess.DEVNULL)
        good = out.read_bytes()
    base = Qbin(good)
    assert base.build() == good, "the rebuilt .qbin differs from sutra's: update Qbin.build"
    c.write(d + "good.qbin", good)
    for cmd in ("validate", "inspect", "dequantize"):
        c.case("qbin/good:" + cmd, d + "good.qbin", cmd, 0, "", "the undamaged .qbin")

    w = "model.layers.0.mlp.up_proj.weight"
    all3 = ("validate", "inspect", "dequantize")

    def bad(stem, data, message, why, commands=all3, bug=None, bug_commands=all3):
        c.write(d + stem + ".qbin", data)
        for cmd in commands:
            c.case("qbin/" + stem + ":" + cmd, d + stem + ".qbin", cmd,
                   1 if cmd == "validate" else 2, message, why,
                   bug if cmd in bug_commands else None)

    def edited(fn, **kw):
        q = Qbin(good)
        fn(q)
        return q.build(**kw)

    n = struct.unpack("<Q", good[:8])[0]
    data_start = 8 + n
    needle = good.find(b'"sutra.header_xxh3":"') + len(b'"sutra.header_xxh3":"')
    flipped = bytearray(good)
    flipped[needle + 3] = ord("0") if flipped[needle + 3] != ord("0") else ord("1")
    bad("header_checksum_digit", bytes(flipped), "header checksum mismatch",
        "one digit of the stored header checksum changed")
    tool = good.find(b"sutra 0.")
    flipped = bytearray(good)
    flipped[tool + 6] = ord("9")
    bad("header_byte_flipped", bytes(flipped), "header checksum mismatch",
        "a byte of the profile (the tool version) changed; only the header checksum sees it")
    bad("header_checksum_short", edited(lambda q: None, checksum=False, meta={
        "sutra.profile": json.dumps(base.profile, separators=(",", ":")),
        "sutra.header_xxh3": "abc"}), "header checksum mismatch",
        "a 3-digit header checksum")
    offs = {k: v["data_offsets"] for k, v in base.header.items() if k != "__metadata__"}

    def flip_data(stored, at):
        b = bytearray(good)
        b[data_start + offs[stored][0] + at] ^= 0x10
        return bytes(b)

    for stem, stored, record, why in [
        ("data_flip_qweight", w + ".qweight", w, "a bit flipped in the packed 4-bit codes"),
        ("data_flip_scales", w + ".scales", w, "a bit flipped in an F16 scale"),
        ("data_flip_raw", "model.norm.weight", "model.norm.weight",
         "a bit flipped in a tensor stored unchanged"),
    ]:
        c.write(d + stem + ".qbin", flip_data(stored, 5))
        c.case("qbin/" + stem + ":validate", d + stem + ".qbin", "validate", 1,
               "DAMAGED '%s' (stored '%s')" % (record, stored),
               why + "; validate names the tensor")
        c.case("qbin/" + stem + ":dequantize", d + stem + ".qbin", "dequantize", 2,
               "tensor '%s' is damaged" % record, why + "; dequantize refuses the file")
    bad("truncated_data", good[:-10], "past the data length",
        "the last 10 bytes are missing (an interrupted copy)")
    bad("truncated_header", good[:200], "runs past the end of the file",
        "the file stops inside the header")
    bad("appended_bytes", good + b"\x00" * 8, "8 trailing bytes after the last tensor",
        "8 bytes appended after the last tensor")
    bad("nul_padding", edited(lambda q: None, pad_byte=b"\x00"), "NUL byte at header offset",
        "the header padded with NUL instead of spaces (QBIN.md section 1)")
    bad("plain_safetensors", src, "no sutra profile in __metadata__",
        "a plain safetensors checkpoint is not a .qbin", commands=("validate", "dequantize"))
    bad("no_header_checksum", edited(lambda q: None, checksum=False, meta={
        "sutra.profile": json.dumps(base.profile, separators=(",", ":"))}),
        "sutra.header_xxh3",
        "the profile is there but the header checksum key is not")
    bad("checksum_key_escaped",
        edited(lambda q: None, checksum=False,
               post=lambda t: t.replace(b'"sutra.header_xxh3"', b'"sutra.header\\u005fxxh3"')),
        "the header checksum field \"sutra.header_xxh3\" is missing or repeated",
        "the checksum key spelled with a JSON escape: parsed, it is there; as raw bytes, "
        "QBIN.md section 4 cannot find it")

    def drop(key):
        return lambda q: q.profile.pop(key)

    bad("profile_no_format_version", edited(drop("format_version")),
        "profile has no format_version", "format_version removed from the profile")
    bad("profile_no_tensors", edited(drop("tensors")), "profile has no tensors array",
        "the records removed from the profile")
    bad("profile_no_format", edited(drop("format")), "profile format is not \"sutra.qbin\"",
        "the format name removed from the profile")
    bad("profile_wrong_format", edited(lambda q: q.profile.update(format="sutra.qbim")),
        "profile format is not \"sutra.qbin\"", "a misspelled format name")
    bad("format_version_2", edited(lambda q: q.profile.update(format_version=2)),
        "format version 2 is not supported", "a future format version")
    bad("format_version_0", edited(lambda q: q.profile.update(format_version=0)),
        "format version 0 is not supported", "format version 0 never existed")
    bad("format_version_string", edited(lambda q: q.profile.update(format_version="1")),
        "format_version",
        "the version as a string (the message says the profile has none)")
    bad("record_no_encoding", edited(lambda q: q.record(w).pop("encoding")),
        "needs string fields name, dtype, encoding", "a record without its encoding")
    bad("record_no_group_width", edited(lambda q: q.record(w).pop("group_width")),
        "group_width does not match shape and group_size", "a record without group_width")
    bad("record_no_stored", edited(lambda q: q.record(w).pop("stored")),
        "stored must be an array", "a record without its stored tensors")
    bad("record_unknown_encoding", edited(lambda q: q.record(w).update(encoding="q5")),
        "unknown encoding \"q5\"", "an encoding sutra does not know")
    bad("record_bits_mismatch", edited(lambda q: q.record(w).update(bits=8)),
        "bits does not match encoding q4", "bits 8 on a q4 record")
    bad("record_bad_group_size", edited(lambda q: q.record(w).update(group_size=48)),
        "group_size must be 32, 64, 128, 256 or \"row\"", "group size 48")
    bad("record_unknown_dtype", edited(lambda q: q.record(w).update(dtype="F12")),
        "unknown dtype F12", "a record with an unknown original dtype")
    bad("record_3d_quantized", edited(lambda q: q.record(w).update(shape=[2, 2, 64])),
        "a quantized tensor must be a non-empty 2-D F32/F16/BF16 weight",
        "a quantized record with a 3-D shape")
    bad("record_xxh3_malformed",
        edited(lambda q: q.record(w)["stored"][0].update(xxh3="not-a-checksum!!")),
        "xxh3 must be 16 lowercase hex digits", "a data checksum that is not hex")
    bad("record_xxh3_upper_case",
        edited(lambda q: q.record(w)["stored"][0].update(
            xxh3=q.record(w)["stored"][0]["xxh3"].upper())),
        "xxh3 must be 16 lowercase hex digits", "a data checksum in upper case")
    bad("record_twice",
        edited(lambda q: q.profile["tensors"].append(dict(q.profile["tensors"][-1]))),
        "tensor 'model.norm.weight' is recorded twice", "the same record twice")

    def claim_twice(q):
        r = dict(q.record("model.norm.weight"))
        r["name"] = "model.norm2.weight"
        q.profile["tensors"].append(r)

    bad("stored_claimed_twice", edited(claim_twice),
        "stored tensor 'model.norm.weight' is claimed twice",
        "two records point at the same stored tensor")

    def drop_stored(q):
        q.tensors = [t for t in q.tensors if t[0] != w + ".qzeros"]

    bad("stored_tensor_missing", edited(drop_stored),
        "stored tensor '%s.qzeros' of '%s' is missing" % (w, w),
        "the qzeros tensor removed from the container, its record kept")

    def add_unclaimed(q):
        q.tensors.append(["extra", {"dtype": "U8", "shape": [4]}, b"\x01\x02\x03\x04"])

    bad("stored_tensor_unclaimed", edited(add_unclaimed),
        "1 stored tensor(s) are not described by the profile",
        "a stored tensor no record claims")

    def stored_dtype(q):
        next(t for t in q.tensors if t[0] == w + ".qweight")[1]["dtype"] = "I8"

    bad("stored_dtype_mismatch", edited(stored_dtype),
        "stored tensor '%s.qweight' has dtype/shape that do not match its record" % w,
        "qweight stored as I8 instead of U8 (same bytes)")

    def stored_shape(q):
        next(t for t in q.tensors if t[0] == w + ".qweight")[1]["shape"] = [8, 16]

    bad("stored_shape_mismatch", edited(stored_shape),
        "stored tensor '%s.qweight' has dtype/shape that do not match its record" % w,
        "qweight reshaped to [8, 16] (same bytes)")
    bad("profile_invalid_json",
        edited(lambda q: None, meta={"sutra.profile": '{"format":"sutra.qbin",',
                                     "sutra.header_xxh3": "0" * 16}),
        "sutra.profile: not valid JSON", "the profile string is cut short")
    bad("profile_duplicate_key",
        edited(lambda q: None, meta={
            "sutra.profile": '{"format":"sutra.qbin","format_version":1,"format_version":2}',
            "sutra.header_xxh3": "0" * 16}),
        "duplicate key \"format_version\"", "the profile gives format_version twice")
    bad("profile_array",
        edited(lambda q: None, meta={"sutra.profile": "[1]", "sutra.header_xxh3": "0" * 16}),
        "profile format is not \"sutra.qbin\"", "the profile is a JSON array")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        raise SystemExit(__doc__)
    sutra = str(Path(args[0]).resolve())
    c = Collection()
    header_length_cases(c)
    json_cases(c)
    dtype_shape_cases(c)
    offsets_cases(c)
    shard_cases(c)
    other_format_cases(c)
    accepted_cases(c)
    qbin_cases(c, sutra)

    if CASES.exists():
        shutil.rmtree(CASES)
    for rel, data in sorted(c.files.items()):
        p = CASES / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (HERE / "cases.json").write_text(json.dumps(c.entries, indent=1, ensure_ascii=False) + "\n")
    malformed = {e["path"] for e in c.entries if e["expect_exit"] != 0}
    accepted = {e["path"] for e in c.entries if e["expect_exit"] == 0}
    print("%d files, %d runs: %d malformed inputs, %d accepted inputs" %
          (len(c.files), len(c.entries), len(malformed), len(accepted)))
    if "--check" in sys.argv:
        sys.exit(check(c.entries, sutra))


def check(entries, sutra):
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for e in entries:
            out = Path(tmp) / "out"
            out.mkdir()
            path = str(HERE / e["path"])
            args = {"inspect": ["inspect", path],
                    "quantize": ["quantize", path, "-o", str(out / "out.qbin"), "--method",
                                 "rtn"],
                    "validate": ["validate", path],
                    "dequantize": ["dequantize", path, "-o", str(out / "out.safetensors")]}
            r = subprocess.run([sutra] + args[e["command"]], capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=60)
            text = (r.stdout if e["expect_exit"] == 1 else r.stderr).decode(errors="replace")
            if r.returncode != e["expect_exit"] or e["message"] not in text:
                known = " (known bug)" if e.get("bug") else ""
                failures += 0 if known else 1
                print("%s%s: exit %d (expected %d): %s" % (e["name"], known, r.returncode,
                                                          e["expect_exit"], text.strip()[:300]))
            shutil.rmtree(out)
    print("%d of %d runs differ, known bugs aside" % (failures, len(entries)))
    return 1 if failures else 0


if __name__ == "__main__":
    main()
