// The generic AWQ block (pipeline/awq_family_block) on the families that implement the block
// view of model/family.hpp, with their real fixtures:
//   - the transform is exact: with a forced alpha and no clipping, the transformed block
//     (scaled linears, folded 1/s, unquantized) computes what the original block computes on
//     real text windows, for every RWKV fixture (and Mamba's when it has the block view), and
//     the fold did happen (the weights changed where s is not all ones);
//   - the search: loss_best <= loss_plain per group, the fast search's 9-of-20 promise, and the
//     same bits on 1 and 2 threads;
//   - `sutra quantize --method awq` end to end on RWKV 5.2: AWQ's mean KL below RTN's, the
//     .qbin records AWQ, the output does not depend on --threads, what RWKV cannot do is
//     refused (exit 2), and time-mix parameters stay unquantized while the linears are not.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/family_registry.hpp"
#include "sutra/model/text_tokens.hpp"
#include "sutra/model/weights.hpp"
#include "sutra/pipeline/awq_family_block.hpp"
#include "sutra/quant/layout.hpp"
#include "unit/model/model_test_support.hpp"

using namespace sutra;
namespace fs = std::filesystem;

namespace {

fs::path rwkv_dir() {
    return test::shared_dir() / "models" / "tiny-rwkv";
}
fs::path text(const char* name) {
    return test::shared_dir() / "text" / name;
}

// The RWKV fixtures: rwkv.cpp naming (4, 5.2, 6, 7) and Hugging Face RwkvForCausalLM (4).
const std::vector<const char*> kRwkvFixtures = {
    "tiny-rwkv-4v0-660K.safetensors", "tiny-rwkv-4v0-660K-hf",
    "tiny-rwkv-5v2-730K.safetensors", "tiny-rwkv-6v0-1m.safetensors",
    "tiny-rwkv-7v0-834K.safetensors", "random-rwkv4-hf"};

// A checkpoint opened as its family runs it (family registry), weights kept.
struct Opened {
    fs::path path;
    std::unique_ptr<io::Checkpoint> checkpoint;
    std::unique_ptr<model::CheckpointWeights> weights;
    std::optional<nlohmann::json> config;
    std::unique_ptr<model::Model> m;
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

// `count` windows of `len` text tokens of the calibration text (the model's tokenizer: bytes
// for RWKV), spread over it, each embedded from the initial state (after the window-start
// token when the family has one).
std::vector<model::Activations> windows(model::Model& m, const fs::path& model_dir, size_t count,
                                        size_t len) {
    model::TextInput in;
    in.texts = {text("tinystories_calib.txt")};
    auto t = model::load_eval_tokens(model_dir, m.info(), in);
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
        REQUIRE(m.embed(ids, 0, xs[k]).ok());
    }
    return xs;
}

// 4-bit, group 32 (a ragged or single group where the input is narrower) for every linear.
pipeline::LinearLayouts all_layouts(const model::Model& m, int layer) {
    pipeline::LinearLayouts l;
    for (const auto& bl : m.block_linears(layer))
        l[bl.name] =
            quant::make_layout(static_cast<uint64_t>(bl.out), static_cast<uint64_t>(bl.in), 4, 32);
    return l;
}

// max |a - b| / max |a| over every window.
double rel_max_diff(const std::vector<model::Activations>& a,
                    const std::vector<model::Activations>& b) {
    REQUIRE(a.size() == b.size());
    double d = 0, mx = 0;
    for (size_t k = 0; k < a.size(); ++k) {
        REQUIRE(a[k].data.size() == b[k].data.size());
        d = std::max(d, test::model::max_abs_diff(a[k].data, b[k].data));
        mx = std::max(mx, test::model::max_abs(a[k].data));
    }
    REQUIRE(mx > 0);
    return d / mx;
}

// Exactness of the transform on every block of one model: returns how many groups had a
// non-trivial s (each of which must have changed its linears and its fold tensors).
int check_exact_transform(Opened& o, size_t count, size_t len) {
    model::Model& m = *o.m;
    const fs::path dir = fs::is_directory(o.path) ? o.path : o.path.parent_path();
    std::vector<model::Activations> xs = windows(m, dir, count, len);
    pipeline::AwqOptions opt;
    opt.alpha = 0.5f;
    opt.clip = false;
    int nontrivial = 0;
    for (int layer = 0; layer < static_cast<int>(m.info().num_layers); ++layer) {
        INFO("layer " << layer);
        auto fp = m.load_block(layer);
        INFO((fp.ok() ? "" : fp.error().message));
        REQUIRE(fp.ok());
        const std::vector<model::Activations> in = xs;
        const auto groups = m.scale_groups(layer);
        REQUIRE_FALSE(groups.empty());
        auto res = pipeline::awq_family_block(m, *fp, xs, all_layouts(m, layer), opt);
        INFO((res.ok() ? "" : res.error().message));
        REQUIRE(res.ok());

        // xs now holds the original block's output; the transformed block must give it too.
        std::vector<model::Activations> ref = in;
        REQUIRE(m.run_block(layer, ref).ok());
        CHECK(rel_max_diff(ref, xs) == 0.0);  // the trace advanced the windows exactly
        std::vector<model::Activations> got = in;
        REQUIRE(m.run_block_with(res->weights, got).ok());
        CHECK(rel_max_diff(xs, got) < 1e-4);

        REQUIRE(res->groups.size() == groups.size());
        std::set<std::string> touched;  // tensors a group may change
        for (size_t g = 0; g < groups.size(); ++g) {
            const model::ScaleGroup& sg = groups[g];
            INFO("group " << sg.name);
            CHECK(res->groups[g].group == sg.name);
            CHECK(res->groups[g].searched);
            CHECK(res->groups[g].best_alpha == 0.5f);
            CHECK(res->groups[g].alphas_evaluated == 2);
            CHECK(res->groups[g].losses.empty());
            for (const auto& l : sg.linears)
                touched.insert(l + ".weight");
            touched.insert(sg.fold_tensors.begin(), sg.fold_tensors.end());
            REQUIRE(res->input_scales.count(sg.linears.front()));
            const std::vector<float>& s = res->input_scales.at(sg.linears.front());
            const auto [mn, mx] = std::minmax_element(s.begin(), s.end());
            if (*mx < *mn * 1.01f) continue;  // s close to all ones: nothing to see
            ++nontrivial;
            for (const auto& l : sg.linears) {
                INFO("linear " << l);
                CHECK(res->input_scales.at(l) == s);
                CHECK(*res->weights.find(l + ".weight") != *fp->find(l + ".weight"));
            }
            for (const auto& t : sg.fold_tensors) {
                INFO("fold tensor " << t);
                const std::vector<float>* before = fp->find(t);
                REQUIRE(before);
                // A zero tensor (an untrained bias) stays zero whatever s is.
                if (test::model::max_abs(*before) == 0.0) continue;
                CHECK(*res->weights.find(t) != *before);
            }
        }
        // Everything else is left as it was (time-mix parameters, ungrouped linears: no
        // clipping here).
        REQUIRE(res->weights.tensors.size() == fp->tensors.size());
        for (const auto& [name, v] : fp->tensors) {
            if (touched.count(name)) continue;
            INFO("untouched " << name);
            CHECK(*res->weights.find(name) == v);
        }
    }
    return nontrivial;
}

}  // namespace

TEST_CASE("awq family block: the transform of every RWKV block is exact",
          "[pipeline][awq][family][shared]") {
    for (const char* file : kRwkvFixtures) {
        SECTION(file) {
            auto o = open(rwkv_dir() / file);
            CHECK(o->m->info().family == "rwkv");
            const int nontrivial = check_exact_transform(*o, 3, 64);
            INFO(nontrivial << " groups with a non-trivial s");
            // Every block's att.mix and ffn.mix at least (ln1's / ln2's output is never flat).
            CHECK(nontrivial >= 2 * static_cast<int>(o->m->info().num_layers));
        }
    }
}

TEST_CASE("awq family block: the transform of every Mamba block is exact",
          "[pipeline][awq][family][shared]") {
    auto o = open(test::shared_dir() / "models" / "tiny-mamba");
    CHECK(o->m->info().family == "mamba");
    const int nontrivial = check_exact_transform(*o, 3, 64);
    CHECK(nontrivial >= static_cast<int>(o->m->info().num_layers));
}

TEST_CASE("awq family block: the search keeps its promises, the same on 1 and 2 threads",
          "[pipeline][awq][family][shared][slow]") {
    for (const char* file : {"tiny-rwkv-5v2-730K.safetensors", "tiny-rwkv-7v0-834K.safetensors"}) {
        SECTION(file) {
            auto o = open(rwkv_dir() / file);
            model::Model& m = *o->m;
            std::vector<model::Activations> xs = windows(m, rwkv_dir(), 4, 96);
            for (int layer = 0; layer < 3; ++layer) {
                INFO("layer " << layer);
                auto fp = m.load_block(layer);
                REQUIRE(fp.ok());
                const auto layouts = all_layouts(m, layer);
                pipeline::AwqOptions opt;  // fast search, clipping on
                REQUIRE(opt.search == pipeline::AwqSearch::fast);
                std::vector<model::Activations> xs2 = xs;
                auto one = pipeline::awq_family_block(m, *fp, xs, layouts, opt);
                REQUIRE(one.ok());
                opt.threads = 2;
                auto two = pipeline::awq_family_block(m, *fp, xs2, layouts, opt);
                REQUIRE(two.ok());
                CHECK(rel_max_diff(xs, xs2) == 0.0);

                REQUIRE(one->groups.size() == m.scale_groups(layer).size());
                for (size_t g = 0; g < one->groups.size(); ++g) {
                    const pipeline::AwqGroupReport& r = one->groups[g];
                    INFO("group " << r.group);
                    REQUIRE(r.searched);
                    CHECK(r.loss_best <= r.loss_plain);
                    CHECK(std::isfinite(r.loss_plain));
                    REQUIRE(r.losses.size() == 20);
                    // Coarse to fine: every 4th alpha, then 2 and 1 away from the best: at
                    // most 9 of 20, each alpha's loss computed once, the pick a local minimum.
                    int seen = 0;
                    for (size_t i = 0; i < 20; ++i) {
                        if (std::isnan(r.losses[i])) {
                            CHECK(i % 4 != 0);
                            continue;
                        }
                        ++seen;
                        CHECK(r.loss_best <= r.losses[i]);
                    }
                    CHECK(seen == r.alphas_evaluated);
                    CHECK(r.alphas_evaluated >= 5);
                    CHECK(r.alphas_evaluated <= 9);
                    CHECK(r.loss_plain == r.losses[0]);
                    const auto best = static_cast<size_t>(std::lround(r.best_alpha * 20));
                    REQUIRE(best < 20);
                    CHECK(r.losses[best] == r.loss_best);
                    if (best > 0) CHECK_FALSE(std::isnan(r.losses[best - 1]));
                    if (best < 19) CHECK_FALSE(std::isnan(r.losses[best + 1]));

                    const pipeline::AwqGroupReport& q = two->groups[g];
                    CHECK(q.best_alpha == r.best_alpha);
                    CHECK(q.loss_best == r.loss_best);
                    CHECK(q.loss_plain == r.loss_plain);
                    CHECK(q.alphas_evaluated == r.alphas_evaluated);
                }
                // Bit-identical transformed tensors and scales.
                REQUIRE(one->weights.tensors.size() == two->weights.tensors.size());
                for (const auto& [name, v] : one->weights.tensors) {
                    INFO(name);
                    const std::vector<float>* t = two->weights.find(name);
                    REQUIRE(t);
                    CHECK(*t == v);
                }
                CHECK(one->input_scales == two->input_scales);
            }
        }
    }
}

namespace {

std::string rwkv5() {
    return (rwkv_dir() / "tiny-rwkv-5v2-730K.safetensors").string();
}

std::vector<std::string> quantize_args(const std::string& out, const char* method,
                                       const char* calib_tokens, const char* threads) {
    std::vector<std::string> a = {"quantize", rwkv5(), "-o",           out,  "--method",  method,
                                  "--bits",   "4",     "--group-size", "32", "--threads", threads,
                                  "--force",  "-q"};
    if (std::string(method) != "rtn")
        a.insert(a.end(), {"--calib-text", text("tinystories_calib.txt").string(), "--calib-tokens",
                           calib_tokens});
    return a;
}

nlohmann::json run_json(const std::vector<std::string>& args) {
    const test::CliRun r = test::run_sutra(args);
    INFO(r.err);
    REQUIRE(r.code == 0);
    return nlohmann::json::parse(r.out);
}

}  // namespace

TEST_CASE("awq family: sutra quantize --method awq on RWKV 5.2 beats RTN and records AWQ",
          "[pipeline][awq][family][shared][slow]") {
    test::TempDir tmp;
    const std::string awq = (tmp / "awq.qbin").string(), rtn = (tmp / "rtn.qbin").string();
    for (const auto& [out, method] : {std::pair{awq, "awq"}, std::pair{rtn, "rtn"}}) {
        const test::CliRun r = test::run_sutra(quantize_args(out, method, "4096", "1"));
        INFO(r.err);
        REQUIRE(r.code == 0);
    }
    nlohmann::json kl[2];
    for (int i = 0; i < 2; ++i) {
        const auto v =
            run_json({"validate", i == 0 ? awq : rtn, "--against", rwkv5(), "--text",
                      text("tinystories_eval.txt").string(), "--max-tokens", "20000", "--json"});
        CHECK(v["passed"] == true);
        kl[i] = v["quality"];
        if (i == 0) {
            // What AWQ changed is flagged: every block's linears and the norms it folded into.
            std::set<std::string> transformed;
            for (const auto& t : v["transformed"])
                transformed.insert(t.get<std::string>());
            for (const char* t : {"blocks.0.ln1.weight", "blocks.0.att.ln_x.weight",
                                  "blocks.11.att.key.weight", "blocks.11.ffn.value.weight"})
                CHECK(transformed.count(t));
            CHECK_FALSE(transformed.count("blocks.0.att.time_decay"));
        }
    }
    const double kl_awq = kl[0]["mean_kl"], kl_rtn = kl[1]["mean_kl"];
    INFO("mean KL: AWQ " << kl_awq << ", RTN " << kl_rtn);
    CHECK(kl[0]["tokens"] == kl[1]["tokens"]);
    CHECK(kl_rtn > 0);
    CHECK(kl_awq < kl_rtn);

    const auto info = run_json({"inspect", awq, "--json"});
    CHECK(info["profile"]["method"] == "awq");
    CHECK(info["profile"]["awq"]["search"] == "fast");
    CHECK(info["profile"]["awq"]["loss_tokens"] == 4096);
    // Time-mix and decay parameters stored as they are; every att / ffn linear quantized.
    int linears = 0, time_params = 0;
    for (const auto& t : info["tensors"]) {
        const std::string name = t["name"];
        const std::string enc = t["encoding"];
        INFO(name << ": " << enc);
        if (name.find(".time_") != std::string::npos) {
            ++time_params;
            CHECK(enc == "raw");
        } else if ((name.find(".att.") != std::string::npos ||
                    name.find(".ffn.") != std::string::npos) &&
                   name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 &&
                   name.find(".ln_x.") == std::string::npos) {
            ++linears;
            CHECK(enc == "q4");
        }
    }
    CHECK(time_params == 12 * 8);  // time_decay, time_faaaa, 4 + 2 time_mix per block
    CHECK(linears == 12 * 8);      // key value receptance gate output, key value receptance
}

TEST_CASE("awq family: the .qbin of RWKV does not depend on --threads",
          "[pipeline][awq][family][shared][slow]") {
    test::TempDir tmp;
    const std::string a = (tmp / "t1.qbin").string(), b = (tmp / "t2.qbin").string();
    for (const auto& [out, threads] : {std::pair{a, "1"}, std::pair{b, "2"}}) {
        const test::CliRun r = test::run_sutra(quantize_args(out, "awq", "1024", threads));
        INFO(r.err);
        REQUIRE(r.code == 0);
    }
    const test::Bytes x = test::read_bytes(a), y = test::read_bytes(b);
    REQUIRE(!x.empty());
    CHECK(x == y);
}

TEST_CASE("awq family: what RWKV cannot be quantized with is refused with exit 2",
          "[pipeline][awq][family][shared]") {
    test::TempDir tmp;
    const std::string out = (tmp / "x.qbin").string();
    // (GPTQ and AWQ + GPTQ run on RWKV: test/unit/cli/cli_gptq_family_test.cpp.)
    // A statistics file that is not one (statistics files of RWKV: cli_family_calib_test).
    const std::string stats = (tmp / "stats.safetensors").string();
    test::write_bytes(stats, test::Bytes{});
    const test::CliRun r = test::run_sutra(
        {"quantize", rwkv5(), "-o", out, "--method", "awq", "--calib", stats, "--force"});
    CHECK(r.code == 2);
    CHECK(r.err.find(stats) != std::string::npos);
    CHECK(r.err.find("too short for a safetensors file") != std::string::npos);
    CHECK_FALSE(fs::exists(out));
}
