// Any single damaged byte of a .qbin — in the length prefix, the JSON header, the sutra
// profile, or the tensor data — is detected by validate, which names what is damaged: the
// header (with its checksum) for a byte before the data, the stored tensor holding the byte
// otherwise. Every byte of a small file is flipped, one at a time, in two ways.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/pipeline/quantize.hpp"
#include "sutra/pipeline/validate.hpp"

using namespace sutra;

namespace {

struct Span {
    std::string name;
    uint64_t begin = 0, end = 0;  // absolute file offsets
};

// The stored tensors of a safetensors file and where their bytes are.
std::vector<Span> stored_spans(const test::Bytes& f) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; --i)
        len = len << 8 | f[static_cast<size_t>(i)];
    const auto j =
        nlohmann::json::parse(std::string(f.begin() + 8, f.begin() + 8 + static_cast<long>(len)));
    std::vector<Span> out;
    for (const auto& [name, v] : j.items()) {
        if (name == "__metadata__") continue;
        out.push_back({name, 8 + len + v["data_offsets"][0].get<uint64_t>(),
                       8 + len + v["data_offsets"][1].get<uint64_t>()});
    }
    return out;
}

}  // namespace

TEST_CASE("validate detects every single flipped byte of a .qbin and names what is damaged",
          "[faults][flip]") {
    test::TempDir d;
    test::StBuilder b;
    b.meta("format", "pt");
    b.f32_filled("model.layers.0.mlp.up_proj.weight", {4, 64});
    b.f32("model.norm.weight", {4}, {1, 1, 1, 1});
    b.write(d / "m.safetensors");
    pipeline::QuantizeOptions q;
    q.input = d / "m.safetensors";
    q.output = d / "m.qbin";
    q.method = "rtn";
    q.threads = 1;
    REQUIRE(pipeline::run_quantize(q, nullptr).ok());
    const test::Bytes good = test::read_bytes(d / "m.qbin");
    const auto spans = stored_spans(good);
    REQUIRE(spans.size() == 4);  // qweight, scales, qzeros, and the norm
    const uint64_t data_begin = spans.front().begin;

    pipeline::ValidateOptions v;
    v.qbin = d / "f.qbin";
    test::write_bytes(v.qbin, good);
    auto clean = pipeline::run_validate(v, nullptr);
    REQUIRE(clean.ok());
    REQUIRE(clean->passed);

    size_t flipped = 0, header_named = 0, tensor_named = 0;
    std::map<std::string, size_t> header_reasons;  // first words of the structure errors
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0xff}}) {
        for (size_t at = 0; at < good.size(); ++at) {
            test::Bytes bad = good;
            bad[at] ^= mask;
            test::write_bytes(v.qbin, bad);
            auto r = pipeline::run_validate(v, nullptr);
            INFO("byte " << at << " xor " << int(mask));
            REQUIRE(r.ok());
            REQUIRE_FALSE(r->passed);
            ++flipped;
            if (at < data_begin) {
                // Before the data: the header cannot be trusted, and validate says why.
                REQUIRE_FALSE(r->structure_ok);
                REQUIRE_FALSE(r->structure_error.empty());
                ++header_named;
                const auto colon = r->structure_error.find(": ");
                const std::string after = r->structure_error.substr(colon + 2);
                ++header_reasons[after.substr(0, after.find_first_of(" (:"))];
            } else {
                REQUIRE(r->structure_ok);
                REQUIRE(r->damaged.size() == 1);
                std::string holder;
                for (const auto& s : spans)
                    if (at >= s.begin && at < s.end) holder = s.name;
                REQUIRE_FALSE(holder.empty());
                CHECK_THAT(r->damaged.front(), Catch::Contains(holder));
                ++tensor_named;
            }
        }
    }
    CHECK(flipped == 2 * good.size());
    CHECK(header_named + tensor_named == flipped);
    std::string reasons;
    for (const auto& [k, n] : header_reasons)
        reasons += k + " x" + std::to_string(n) + "; ";
    WARN("flipped " << flipped << " bytes of a " << good.size() << "-byte .qbin: " << header_named
                    << " in the header, " << tensor_named
                    << " in tensor data, all detected; header errors: " << reasons);
}

TEST_CASE("validate exits 1 for a flipped byte and 0 for the intact file", "[faults][flip]") {
    test::TempDir d;
    test::StBuilder b;
    b.f32_filled("model.layers.0.mlp.up_proj.weight", {4, 64});
    b.write(d / "m.safetensors");
    REQUIRE(test::run_sutra({"quantize", (d / "m.safetensors").string(), "-o",
                             (d / "m.qbin").string(), "--method", "rtn"})
                .code == 0);
    const test::Bytes good = test::read_bytes(d / "m.qbin");
    CHECK(test::run_sutra({"validate", (d / "m.qbin").string()}).code == 0);
    for (size_t at : {size_t{0}, size_t{9}, good.size() / 2, good.size() - 1}) {
        test::Bytes bad = good;
        bad[at] ^= 0x20;
        test::write_bytes(d / "bad.qbin", bad);
        const auto r = test::run_sutra({"validate", (d / "bad.qbin").string()});
        INFO("byte " << at << ": " << r.out << r.err);
        CHECK(r.code == 1);
        CHECK((r.out.find("FAIL") != std::string::npos ||
               r.out.find("DAMAGED") != std::string::npos));
    }
}
