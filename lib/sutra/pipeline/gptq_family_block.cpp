#include "sutra/pipeline/gptq_family_block.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include "sutra/base/stopwatch.hpp"
#include "sutra/base/thread_pool.hpp"
#include "sutra/quant/awq.hpp"

namespace sutra::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

Error gptq_internal(const std::string& what) {
    return make_error(Errc::internal, "GPTQ: " + what);
}

// Clears the observer on every way out.
class GptqObserverReset {
  public:
    explicit GptqObserverReset(model::Model& m) : m_(m) {}
    ~GptqObserverReset() { m_.set_linear_observer(nullptr); }
    GptqObserverReset(const GptqObserverReset&) = delete;
    GptqObserverReset& operator=(const GptqObserverReset&) = delete;

  private:
    model::Model& m_;
};

}  // namespace

std::vector<std::vector<std::string>> gptq_family_stages(const model::Model& model, int layer) {
    const std::vector<model::BlockLinear> linears = model.block_linears(layer);
    std::map<std::string, size_t, std::less<>> pos;
    for (size_t i = 0; i < linears.size(); ++i)
        pos.emplace(linears[i].name, i);
    // Each stage as block_linears positions, sorted.
    std::vector<std::vector<size_t>> stages;
    std::set<size_t> grouped;
    for (const model::ScaleGroup& g : model.scale_groups(layer)) {
        std::vector<size_t> s;
        for (const std::string& l : g.linears) {
            auto it = pos.find(l);
            if (it == pos.end() || grouped.count(it->second)) continue;
            s.push_back(it->second);
            grouped.insert(it->second);
        }
        std::sort(s.begin(), s.end());
        if (!s.empty()) stages.push_back(std::move(s));
    }
    for (size_t i = 0; i < linears.size(); ++i)
        if (!grouped.count(i)) stages.push_back({i});
    std::sort(stages.begin(), stages.end(),
              [](const auto& a, const auto& b) { return a.front() < b.front(); });
    std::vector<std::vector<std::string>> out;
    for (const auto& s : stages) {
        std::vector<std::string> names;
        for (size_t i : s)
            names.push_back(linears[i].name);
        out.push_back(std::move(names));
    }
    return out;
}

Result<FamilyHessians> gptq_family_hessians(model::Model& model, const model::BlockTensors& w,
                                            const std::vector<model::Activations>& inputs,
                                            const std::vector<std::string>& names, unsigned threads,
                                            double* hessian_seconds) {
    std::map<std::string, int64_t, std::less<>> width;
    for (const model::BlockLinear& bl : model.block_linears(w.layer))
        width.emplace(bl.name, bl.in);
    FamilyHessians h;
    for (const std::string& n : names) {
        auto it = width.find(n);
        if (it == width.end()) return gptq_internal("no linear " + n + " in the block");
        h.emplace(n, quant::HessianSum(static_cast<uint64_t>(it->second)));
    }
    double seconds = 0;
    {
        const GptqObserverReset reset(model);
        model.set_linear_observer(
            [&](int, std::string_view name, const float* x, int64_t rows, int64_t cols) {
                auto it = h.find(name);
                if (it == h.end() || static_cast<int64_t>(it->second.cols()) != cols) return;
                const auto t0 = Clock::now();
                it->second.add(x, static_cast<uint64_t>(rows), threads);
                seconds += seconds_since(t0);
            });
        for (const model::Activations& in : inputs) {
            model::Activations x = in;
            SUTRA_TRY(model.run_block_with(w, std::span<model::Activations>(&x, 1)));
        }
    }
    if (!inputs.empty())
        for (const auto& [name, s] : h)
            if (s.samples() == 0)
                return gptq_internal("layer " + std::to_string(w.layer) +
                                     ": the block never reported the input of " + name);
    if (hessian_seconds) *hessian_seconds += seconds;
    return h;
}

Result<FamilyGptqResult> gptq_family_block(model::Model& model, const model::BlockTensors& w,
                                           std::vector<model::Activations>& inputs,
                                           const LinearLayouts& layouts,
                                           const GptqBlockOptions& opt) {
    const int layer = w.layer;
    std::map<std::string, model::BlockLinear, std::less<>> by_name;
    for (const model::BlockLinear& bl : model.block_linears(layer))
        by_name.emplace(bl.name, bl);
    for (const auto& [name, layout] : layouts) {
        auto it = by_name.find(name);
        if (it == by_name.end()) return gptq_internal("no linear " + name + " in the block");
        if (static_cast<int64_t>(layout.rows) != it->second.out ||
            static_cast<int64_t>(layout.cols) != it->second.in)
            return gptq_internal("the layout of " + name + " is not its weight's shape");
        const std::vector<float>* t = w.find(name + ".weight");
        if (!t || t->size() != layout.rows * layout.cols)
            return gptq_internal("the block's tensors lack " + name + ".weight of its shape");
    }
    if (inputs.empty()) return gptq_internal("no calibration windows");

    FamilyGptqResult res;
    model::BlockTensors cur = w;  // what the block runs with: quantized so far when sequential
    const auto timed_hessians =
        [&](const model::BlockTensors& t,
            const std::vector<std::string>& names) -> Result<FamilyHessians> {
        const auto t0 = Clock::now();
        double adding = 0;
        auto h = gptq_family_hessians(model, t, inputs, names, opt.threads, &adding);
        res.times.forward += seconds_since(t0) - adding;
        res.times.hessian += adding * opt.threads;
        return h;
    };

    std::vector<std::vector<std::string>> stages;
    for (auto& s : gptq_family_stages(model, layer)) {
        std::vector<std::string> q;
        for (std::string& l : s)
            if (layouts.count(l)) q.push_back(std::move(l));
        if (!q.empty()) stages.push_back(std::move(q));
    }
    FamilyHessians all;
    if (!opt.sequential) {
        std::vector<std::string> names;
        for (const auto& s : stages)
            names.insert(names.end(), s.begin(), s.end());
        SUTRA_ASSIGN(all, timed_hessians(w, names));
    }
    for (const std::vector<std::string>& stage : stages) {
        FamilyHessians own;
        if (opt.sequential) {
            SUTRA_ASSIGN(own, timed_hessians(cur, stage));
        }
        FamilyHessians& hs = opt.sequential ? own : all;
        for (const std::string& name : stage) {
            const quant::QuantLayout& l = layouts.find(name)->second;
            const quant::HessianSum& h = hs.find(name)->second;
            const std::string full = model.block_tensor(layer, name + ".weight");
            auto t0 = Clock::now();
            SUTRA_ASSIGN(
                const quant::GptqFactor f,
                quant::gptq_factor(h, opt.gptq, "layer " + std::to_string(layer) + " " + name));
            res.times.factor += seconds_since(t0);
            const std::vector<float>& wl = *w.find(name + ".weight");
            t0 = Clock::now();
            SUTRA_ASSIGN(quant::GptqResult r,
                         quant::gptq_quantize(wl, l, f, "tensor '" + full + "'", opt.threads));
            res.times.update += seconds_since(t0) * opt.threads;
            GptqLinearReport rep;
            rep.linear = name;
            for (uint8_t d : f.dead)
                rep.dead_columns += d;
            std::vector<float> deq = quant::gptq_dequantize(r, l);
            if (opt.measure_error) {
                rep.error_gptq = quant::hessian_output_error(wl, deq, h, l.rows, opt.threads);
                rep.error_rtn = quant::hessian_output_error(wl, quant::fake_quantize(wl, l), h,
                                                            l.rows, opt.threads);
            }
            if (opt.sequential) *cur.find(name + ".weight") = std::move(deq);
            res.linears.push_back(std::move(rep));
            res.quantized.emplace(name, std::move(r));
        }
        for (const std::string& name : stage)
            hs.erase(name);
    }

    // The next block's input.
    model.set_linear_observer(nullptr);
    const auto t0 = Clock::now();
    for (model::Activations& x : inputs)
        SUTRA_TRY(
            model.run_block_with(opt.sequential ? cur : w, std::span<model::Activations>(&x, 1)));
    res.times.forward += seconds_since(t0);
    return res;
}

}  // namespace sutra::pipeline
