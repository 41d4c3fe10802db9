// An independent .qbin decoder written from lib/sutra/format/QBIN.md alone: it uses the JSON
// library and xxhash directly, none of sutra's reader, layout or quantization code, and must
// agree with `sutra dequantize` bit for bit.
#include <xxhash.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "support/fixtures.hpp"
#include "support/paths.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/pipeline/dequantize.hpp"
#include "sutra/pipeline/quantize.hpp"

namespace {

using json = nlohmann::json;

uint64_t le64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

std::string hex(uint64_t v) {
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
    return b;
}

float half_to_float(uint16_t h) {  // IEEE binary16, from first principles
    const int sign = (h >> 15) & 1, exp = (h >> 10) & 31, mant = h & 1023;
    double v;
    if (exp == 0)
        v = std::ldexp(static_cast<double>(mant), -24);
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = std::ldexp(1.0 + mant / 1024.0, exp - 15);
    return static_cast<float>(sign ? -v : v);
}

unsigned code_at(const uint8_t* row, uint64_t k, unsigned bits) {
    unsigned v = 0;
    for (unsigned b = 0; b < bits; ++b) {
        const uint64_t bit = k * bits + b;
        v |= ((row[bit / 8] >> (bit % 8)) & 1u) << b;
    }
    return v;
}

struct Decoded {
    std::map<std::string, std::vector<float>> tensors;  // float records only
};

Decoded decode(const std::vector<uint8_t>& file) {
    const uint64_t n = le64(file.data());
    REQUIRE((8 + n) % 8 == 0);
    const std::string header(file.begin() + 8, file.begin() + 8 + static_cast<long>(n));
    const json h = json::parse(header);
    const uint8_t* data = file.data() + 8 + n;

    // Header checksum (section 4).
    const std::string needle = "\"sutra.header_xxh3\":\"";
    const size_t at = header.find(needle);
    REQUIRE(at != std::string::npos);
    REQUIRE(header.find(needle, at + 1) == std::string::npos);
    std::string zeroed = std::string(file.begin(), file.begin() + 8) + header;
    const std::string stored_sum = zeroed.substr(8 + at + needle.size(), 16);
    zeroed.replace(8 + at + needle.size(), 16, std::string(16, '0'));
    REQUIRE(hex(XXH3_64bits(zeroed.data(), zeroed.size())) == stored_sum);
    REQUIRE(h["__metadata__"]["sutra.header_xxh3"] == stored_sum);

    const json prof = json::parse(h["__metadata__"]["sutra.profile"].get<std::string>());
    REQUIRE(prof["format"] == "sutra.qbin");
    REQUIRE(prof["format_version"] == 1);

    Decoded out;
    for (const auto& rec : prof["tensors"]) {
        auto part = [&](size_t i) {
            const std::string sname = rec["stored"][i]["name"];
            const auto& e = h.at(sname);
            const uint64_t b = e["data_offsets"][0], end = e["data_offsets"][1];
            REQUIRE(hex(XXH3_64bits(data + b, end - b)) == rec["stored"][i]["xxh3"]);
            return std::make_pair(data + b, e);
        };
        const std::string dtype = rec["dtype"];
        if (rec["encoding"] == "raw") {
            auto [p, e] = part(0);
            if (dtype != "F32") continue;
            std::vector<float> v(
                (e["data_offsets"][1].get<uint64_t>() - e["data_offsets"][0].get<uint64_t>()) / 4);
            std::memcpy(v.data(), p, v.size() * 4);
            out.tensors[rec["name"]] = v;
            continue;
        }
        const unsigned bits = rec["bits"];
        REQUIRE(rec["encoding"] == "q" + std::to_string(bits));
        const uint64_t R = rec["shape"][0], C = rec["shape"][1];
        uint64_t g = rec["group_size"].is_string() ? C : rec["group_size"].get<uint64_t>();
        if (g >= C) g = C;
        REQUIRE(rec["group_width"] == g);
        const uint64_t ng = (C + g - 1) / g;
        auto [qw, eq] = part(0);
        auto [sc, es] = part(1);
        auto [qz, ez] = part(2);
        REQUIRE(eq["dtype"] == "U8");
        REQUIRE(es["dtype"] == "F16");
        REQUIRE(ez["dtype"] == "U8");
        const uint64_t rb = (C * bits + 7) / 8, zb = (ng * bits + 7) / 8;
        REQUIRE(eq["shape"] == json::array({R, rb}));
        REQUIRE(es["shape"] == json::array({R, ng}));
        REQUIRE(ez["shape"] == json::array({R, zb}));
        std::vector<float> w(R * C);
        for (uint64_t r = 0; r < R; ++r) {
            for (uint64_t c = 0; c < C; ++c) {
                const uint64_t k = c / g;
                uint16_t s16;
                std::memcpy(&s16, sc + 2 * (r * ng + k), 2);
                const float scale = half_to_float(s16);
                const float code = static_cast<float>(code_at(qw + r * rb, c, bits));
                const float zero = static_cast<float>(code_at(qz + r * zb, k, bits));
                w[r * C + c] = (code - zero) * scale;
            }
        }
        out.tensors[rec["name"]] = w;
    }
    return out;
}

}  // namespace

TEST_CASE("a decoder written from QBIN.md alone agrees with sutra dequantize", "[format]") {
    using namespace sutra;
    test::TempDir d;
    test::write_safetensors(
        d / "m.safetensors",
        {
            {"model.embed_tokens.weight", DType::F32, {20, 64}, test::noise(20 * 64, 11, 0.1f), {}},
            {"model.layers.0.input_layernorm.weight", DType::F32, {64}, test::noise(64, 12), {}},
            {"model.layers.0.self_attn.q_proj.weight",
             DType::F32,
             {40, 64},
             test::noise(40 * 64, 13),
             {}},
            {"model.layers.0.mlp.down_proj.weight",
             DType::F32,
             {64, 172},
             test::noise(64 * 172, 14),
             {}},
        });
    for (int bits : {3, 4, 8}) {
        for (const char* g : {"32", "128", "row"}) {
            pipeline::QuantizeOptions o;
            o.input = d / "m.safetensors";
            o.output = d / "m.qbin";
            o.force = true;
            o.overrides.bits = bits;
            o.overrides.group_size =
                std::string(g) == "row" ? 0u : static_cast<uint32_t>(std::stoul(g));
            REQUIRE(pipeline::run_quantize(o, nullptr).ok());
            const Decoded mine = decode(test::read_file(d / "m.qbin"));

            pipeline::DequantizeOptions dq;
            dq.input = d / "m.qbin";
            dq.output = d / "out.safetensors";
            dq.force = true;
            REQUIRE(pipeline::run_dequantize(dq, nullptr).ok());
            auto back = io::Checkpoint::open(d / "out.safetensors");
            REQUIRE(back.ok());
            REQUIRE(mine.tensors.size() == 4);
            for (const auto& [name, values] : mine.tensors) {
                auto theirs = back->read_all_f32(name);
                REQUIRE(theirs.ok());
                INFO(name << " bits " << bits << " group " << g);
                REQUIRE(values == *theirs);
            }
        }
    }
}
