// The generic GPTQ block (pipeline/gptq_family_block) on the families that implement the block
// view of model/family.hpp (RWKV 4, 5.2, 6, 7 and Mamba), with their real fixtures:
//   - the stages: every linear in exactly one, a stage is a scaling group's linears or a
//     linear alone, in block order;
//   - GPTQ's defining property: on every block of every family, each quantized linear's output
//     error on its calibration inputs is at most RTN's (below it in total);
//   - the Hessians: a stage's sums equal Σ x xᵀ computed naively from what the linear observer
//     reports, one per linear (RWKV's key, value and receptance read different mixes);
//   - sequential against full-precision inputs: the first stage is rounded alike, later ones
//     differently, and each advances the windows through the block it promises (the quantized
//     one, or the given one) — bit for bit; the same bits on 1 and 2 threads.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/paths.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/family_registry.hpp"
#include "sutra/model/text_tokens.hpp"
#include "sutra/model/weights.hpp"
#include "sutra/pipeline/gptq_family_block.hpp"
#include "sutra/quant/gptq.hpp"
#include "sutra/quant/layout.hpp"
#include "unit/model/model_test_support.hpp"

using namespace sutra;
namespace fs = std::filesystem;

namespace {

fs::path rwkv_dir() {
    return test::shared_dir() / "models" / "tiny-rwkv";
}
fs::path mamba_dir() {
    return test::shared_dir() / "models" / "tiny-mamba";
}

// A checkpoint opened as its family runs it (family registry), weights kept.
struct Opened {
    fs::path path;
    std::unique_ptr<io::Checkpoint> checkpoint;
    std::unique_ptr<model::CheckpointWeights> weights;
    std::optional<nlohmann::json> config;
    std::unique_ptr<model::Model> m;
    fs::path dir() const { return fs::is_directory(path) ? path : path.parent_path(); }
};

std::unique_ptr<Opened> open(const fs::path& path) {
    auto o = std::make_unique<Opened>();
    o->path = path;
    auto ck = io::Checkpoint::open(path);
    INFO(path.string() << ": " << (ck.ok() ? "" : ck.error().message));
    REQUIRE(ck.ok());
    o->checkpoint = std::make_unique<io::Checkpoint>(std::move(*ck));
    o->weights = std::make_unique<model::CheckpointWeights>(*o->checkpoint);
    if (fs::is_directory(path) && fs::exists(path / "config.json"))
        o->config = nlohmann::json::parse(test::model::read_text(path / "config.json"));
    model::ModelOptions mo;
    mo.keep_weights = true;
    auto m =
        model::open_family_model(o->config ? &*o->config : nullptr, *o->weights, mo, path.string());
    INFO((m.ok() ? "" : m.error().message));
    REQUIRE(m.ok());
    o->m = std::move(*m);
    return o;
}

// `count` windows of `len` tokens of the calibration text spread over it, embedded (after the
// window-start token when the family has one).
std::vector<model::Activations> windows(Opened& o, size_t count, size_t len) {
    model::TextInput in;
    in.texts = {test::shared_dir() / "text" / "tinystories_calib.txt"};
    auto t = model::load_eval_tokens(o.dir(), o.m->info(), in);
    INFO((t.ok() ? "" : t.error().message));
    REQUIRE(t.ok());
    REQUIRE(t->tokens.size() >= count * len);
    const size_t stride = t->tokens.size() / count;
    std::vector<model::Activations> xs(count);
    for (size_t k = 0; k < count; ++k) {
        std::vector<int32_t> ids;
        if (t->window_start >= 0) ids.push_back(t->window_start);
        const auto b = t->tokens.begin() + static_cast<std::ptrdiff_t>(k * stride);
        ids.insert(ids.end(), b, b + static_cast<std::ptrdiff_t>(len));
        REQUIRE(o.m->embed(ids, 0, xs[k]).ok());
    }
    return xs;
}

// 4-bit, group 32 for every linear of the block.
pipeline::LinearLayouts all_layouts(const model::Model& m, int layer) {
    pipeline::LinearLayouts l;
    for (const auto& bl : m.block_linears(layer))
        l[bl.name] =
            quant::make_layout(static_cast<uint64_t>(bl.out), static_cast<uint64_t>(bl.in), 4, 32);
    return l;
}

model::BlockTensors loaded(model::Model& m, int layer) {
    auto b = m.load_block(layer);
    INFO((b.ok() ? "" : b.error().message));
    REQUIRE(b.ok());
    return std::move(*b);
}

pipeline::FamilyGptqResult run(model::Model& m, const model::BlockTensors& w,
                               std::vector<model::Activations>& xs,
                               const pipeline::GptqBlockOptions& opt) {
    auto r = pipeline::gptq_family_block(m, w, xs, all_layouts(m, w.layer), opt);
    INFO((r.ok() ? "" : r.error().message));
    REQUIRE(r.ok());
    return std::move(*r);
}

bool same(const std::vector<model::Activations>& a, const std::vector<model::Activations>& b) {
    if (a.size() != b.size()) return false;
    for (size_t k = 0; k < a.size(); ++k)
        if (a[k].rows != b[k].rows || a[k].data != b[k].data) return false;
    return true;
}

// The block with each quantized linear replaced by what its codes decode to.
model::BlockTensors dequantized(const model::Model& m, const model::BlockTensors& w,
                                const pipeline::FamilyGptqResult& r) {
    model::BlockTensors q = w;
    const auto layouts = all_layouts(m, w.layer);
    for (const auto& [name, codes] : r.quantized)
        *q.find(name + ".weight") = quant::gptq_dequantize(codes, layouts.at(name));
    return q;
}

const std::vector<fs::path> kFamilies = {
    rwkv_dir() / "tiny-rwkv-4v0-660K.safetensors", rwkv_dir() / "tiny-rwkv-4v0-660K-hf",
    rwkv_dir() / "tiny-rwkv-5v2-730K.safetensors", rwkv_dir() / "tiny-rwkv-6v0-1m.safetensors",
    rwkv_dir() / "tiny-rwkv-7v0-834K.safetensors", mamba_dir()};

}  // namespace

TEST_CASE("gptq family block: the stages are the scaling groups and the lone linears, in order",
          "[pipeline][gptq][family][shared]") {
    for (const fs::path& p : kFamilies) {
        SECTION(p.filename().string()) {
            auto o = open(p);
            const model::Model& m = *o->m;
            for (int layer = 0; layer < static_cast<int>(m.info().num_layers); ++layer) {
                INFO("layer " << layer);
                const auto linears = m.block_linears(layer);
                std::map<std::string, size_t> pos;
                for (size_t i = 0; i < linears.size(); ++i)
                    pos[linears[i].name] = i;
                std::map<std::string, std::set<std::string>> group_of;
                for (const auto& g : m.scale_groups(layer))
                    for (const auto& l : g.linears)
                        group_of[l] = {g.linears.begin(), g.linears.end()};
                const auto stages = pipeline::gptq_family_stages(m, layer);
                std::multiset<std::string> seen;
                size_t last_first = 0;
                for (size_t s = 0; s < stages.size(); ++s) {
                    const auto& st = stages[s];
                    REQUIRE_FALSE(st.empty());
                    INFO("stage of " << st.front());
                    for (size_t i = 0; i < st.size(); ++i) {
                        REQUIRE(pos.count(st[i]));
                        if (i > 0) CHECK(pos[st[i - 1]] < pos[st[i]]);
                        seen.insert(st[i]);
                    }
                    if (s > 0) CHECK(pos[st.front()] > last_first);
                    last_first = pos[st.front()];
                    const std::set<std::string> members(st.begin(), st.end());
                    if (group_of.count(st.front()))
                        CHECK(members == group_of[st.front()]);
                    else
                        CHECK(st.size() == 1);
                }
                REQUIRE(seen.size() == linears.size());
                for (const auto& l : linears)
                    CHECK(seen.count(l.name) == 1);
                // More than one stage: the block's linears feed one another.
                CHECK(stages.size() >= 2);
            }
        }
    }
    SECTION("Mamba, exactly") {
        auto o = open(mamba_dir());
        const std::vector<std::vector<std::string>> want = {
            {"mixer.in_proj"}, {"mixer.x_proj"}, {"mixer.dt_proj"}, {"mixer.out_proj"}};
        CHECK(pipeline::gptq_family_stages(*o->m, 0) == want);
    }
}

TEST_CASE("gptq family block: every linear's output error on its inputs is at most RTN's",
          "[pipeline][gptq][family][shared]") {
    for (const fs::path& p : kFamilies) {
        SECTION(p.filename().string()) {
            auto o = open(p);
            model::Model& m = *o->m;
            std::vector<model::Activations> xs = windows(*o, 3, 64);
            pipeline::GptqBlockOptions opt;
            opt.measure_error = true;
            double total_gptq = 0, total_rtn = 0;
            for (int layer = 0; layer < static_cast<int>(m.info().num_layers); ++layer) {
                INFO("layer " << layer);
                const model::BlockTensors w = loaded(m, layer);
                const auto res = run(m, w, xs, opt);
                const auto linears = m.block_linears(layer);
                REQUIRE(res.quantized.size() == linears.size());
                REQUIRE(res.linears.size() == linears.size());
                for (const auto& l : res.linears) {
                    INFO(l.linear << ": GPTQ " << l.error_gptq << ", RTN " << l.error_rtn
                                  << ", dead columns " << l.dead_columns);
                    CHECK(res.quantized.count(l.linear));
                    CHECK(std::isfinite(l.error_gptq));
                    CHECK(l.error_gptq >= 0);
                    CHECK(l.error_gptq <= l.error_rtn);
                    total_gptq += l.error_gptq;
                    total_rtn += l.error_rtn;
                }
            }
            INFO("total output error: GPTQ " << total_gptq << ", RTN " << total_rtn);
            CHECK(total_rtn > 0);
            CHECK(total_gptq < total_rtn);
        }
    }
}

TEST_CASE("gptq family block: a stage's Hessians are the naive sums of the observed inputs",
          "[pipeline][gptq][family][shared]") {
    for (const fs::path& p : {rwkv_dir() / "tiny-rwkv-5v2-730K.safetensors",
                              rwkv_dir() / "tiny-rwkv-7v0-834K.safetensors", mamba_dir()}) {
        SECTION(p.filename().string()) {
            auto o = open(p);
            model::Model& m = *o->m;
            std::vector<model::Activations> xs = windows(*o, 3, 48);
            for (int layer = 0; layer < 2; ++layer) {
                INFO("layer " << layer);
                const model::BlockTensors w = loaded(m, layer);
                // What the observer reports on an unquantized pass, every call kept.
                std::map<std::string, std::vector<std::vector<float>>> seen;
                std::map<std::string, int64_t> cols;
                m.set_linear_observer(
                    [&](int, std::string_view name, const float* x, int64_t rows, int64_t c) {
                        seen[std::string(name)].emplace_back(x, x + rows * c);
                        cols[std::string(name)] = c;
                    });
                for (const auto& in : xs) {
                    model::Activations x = in;
                    REQUIRE(m.run_block_with(w, std::span<model::Activations>(&x, 1)).ok());
                }
                m.set_linear_observer(nullptr);

                const std::vector<model::Activations> before = xs;
                for (const auto& stage : pipeline::gptq_family_stages(m, layer)) {
                    INFO("stage of " << stage.front());
                    auto h = pipeline::gptq_family_hessians(m, w, xs, stage, 2);
                    INFO((h.ok() ? "" : h.error().message));
                    REQUIRE(h.ok());
                    REQUIRE(h->size() == stage.size());
                    for (const std::string& name : stage) {
                        INFO(name);
                        REQUIRE(seen.count(name));
                        const auto n = static_cast<size_t>(cols[name]);
                        std::vector<double> naive(n * n, 0.0);
                        uint64_t samples = 0;
                        for (const auto& x : seen[name]) {
                            const size_t rows = x.size() / n;
                            samples += rows;
                            for (size_t r = 0; r < rows; ++r)
                                for (size_t i = 0; i < n; ++i)
                                    for (size_t j = 0; j < n; ++j)
                                        naive[i * n + j] += static_cast<double>(x[r * n + i]) *
                                                            static_cast<double>(x[r * n + j]);
                        }
                        const quant::HessianSum& got = h->at(name);
                        REQUIRE(got.cols() == n);
                        CHECK(got.samples() == samples);
                        double worst = 0;
                        for (size_t i = 0; i < n; ++i)
                            for (size_t j = 0; j < n; ++j) {
                                const double scale =
                                    std::sqrt(naive[i * n + i] * naive[j * n + j]) + 1e-30;
                                worst = std::max(
                                    worst,
                                    std::fabs(got.sum()[i * n + j] - naive[i * n + j]) / scale);
                            }
                        CHECK(worst < 1e-5);
                    }
                    // One Hessian per linear: RWKV's time-mix linears read different mixes.
                    if (stage.size() > 1 && o->m->info().family == "rwkv")
                        CHECK(h->at(stage[0]).sum() != h->at(stage[1]).sum());
                }
                CHECK(same(xs, before));  // the windows are not changed
                REQUIRE(m.run_block_with(w, xs).ok());
            }
        }
    }
}

TEST_CASE("gptq family block: sequential inputs see the quantized stages, fp inputs do not",
          "[pipeline][gptq][family][shared]") {
    for (const fs::path& p : {rwkv_dir() / "tiny-rwkv-5v2-730K.safetensors",
                              rwkv_dir() / "tiny-rwkv-7v0-834K.safetensors", mamba_dir()}) {
        SECTION(p.filename().string()) {
            auto o = open(p);
            model::Model& m = *o->m;
            const std::vector<model::Activations> in = windows(*o, 3, 64);
            const model::BlockTensors w = loaded(m, 0);
            pipeline::GptqBlockOptions opt;
            std::vector<model::Activations> seq = in, fp = in;
            const auto rs = run(m, w, seq, opt);
            opt.sequential = false;
            const auto rf = run(m, w, fp, opt);
            const auto stages = pipeline::gptq_family_stages(m, 0);
            REQUIRE(rs.quantized.size() == m.block_linears(0).size());
            REQUIRE(rf.quantized.size() == rs.quantized.size());
            // The first stage sees the block's given input either way: the same codes.
            for (const std::string& name : stages.front()) {
                INFO(name);
                CHECK(rs.quantized.at(name).codes == rf.quantized.at(name).codes);
                CHECK(rs.quantized.at(name).scales == rf.quantized.at(name).scales);
            }
            // A later stage reads what the quantized stages before it compute.
            size_t differ = 0;
            for (size_t s = 1; s < stages.size(); ++s)
                for (const std::string& name : stages[s])
                    differ += rs.quantized.at(name).codes != rf.quantized.at(name).codes;
            CHECK(differ > 0);
            // Sequential advances through the quantized block, fp through the given one.
            std::vector<model::Activations> want = in;
            REQUIRE(m.run_block_with(dequantized(m, w, rs), want).ok());
            CHECK(same(seq, want));
            want = in;
            REQUIRE(m.run_block_with(w, want).ok());
            CHECK(same(fp, want));
            CHECK_FALSE(same(seq, fp));
        }
    }
}

TEST_CASE("gptq family block: the same bits on 1 and 2 threads",
          "[pipeline][gptq][family][shared]") {
    for (const fs::path& p : {rwkv_dir() / "tiny-rwkv-6v0-1m.safetensors", mamba_dir()}) {
        SECTION(p.filename().string()) {
            auto o = open(p);
            model::Model& m = *o->m;
            std::vector<model::Activations> a = windows(*o, 2, 64);
            std::vector<model::Activations> b = a;
            for (int layer = 0; layer < 2; ++layer) {
                const model::BlockTensors w = loaded(m, layer);
                pipeline::GptqBlockOptions opt;
                opt.measure_error = true;
                const auto one = run(m, w, a, opt);
                opt.threads = 2;
                const auto two = run(m, w, b, opt);
                CHECK(same(a, b));
                REQUIRE(one.quantized.size() == two.quantized.size());
                for (const auto& [name, r] : one.quantized) {
                    INFO(name);
                    CHECK(r.codes == two.quantized.at(name).codes);
                    CHECK(r.scales == two.quantized.at(name).scales);
                    CHECK(r.zeros == two.quantized.at(name).zeros);
                }
                for (size_t i = 0; i < one.linears.size(); ++i)
                    CHECK(one.linears[i].error_gptq == two.linears[i].error_gptq);
            }
        }
    }
}
