#include "sutra/pipeline/awq_family_block.hpp"

#include <cmath>

#include "sutra/model/blas.hpp"
#include "sutra/quant/awq.hpp"

namespace sutra::pipeline {
namespace {

struct LinearTrace {
    std::vector<double> abs_sum;  // over every window's rows
    uint64_t rows = 0;
    std::vector<float> x;  // inputs on the loss windows [n, in]
    uint64_t n = 0;
};

// Clears the observer on every way out.
class ObserverReset {
  public:
    explicit ObserverReset(model::Model& m) : m_(m) {}
    ~ObserverReset() { m_.set_linear_observer(nullptr); }
    ObserverReset(const ObserverReset&) = delete;
    ObserverReset& operator=(const ObserverReset&) = delete;

  private:
    model::Model& m_;
};

Error internal(const std::string& what) {
    return make_error(Errc::internal, "AWQ: " + what);
}

// sum over the rows of x [n, in] of ||x (a - b)^T||^2 for weights a, b [out, in].
double output_error(const std::vector<float>& x, uint64_t n, const std::vector<float>& a,
                    const std::vector<float>& b, int64_t out, int64_t in) {
    std::vector<float> d(a.size());
    for (size_t i = 0; i < d.size(); ++i)
        d[i] = a[i] - b[i];
    std::vector<float> y(static_cast<size_t>(n) * static_cast<size_t>(out));
    model::matmul_wt(x.data(), static_cast<int64_t>(n), in, d.data(), out, y.data());
    double e = 0.0;
    for (float v : y)
        e += static_cast<double>(v) * static_cast<double>(v);
    return e;
}

Status fold(model::BlockTensors& w, const model::ScaleGroup& g,
            const std::vector<model::BlockLinear>& linears, std::span<const float> s) {
    const auto width = static_cast<int64_t>(s.size());
    for (const std::string& t : g.fold_tensors) {
        std::vector<float>* v = w.find(t);
        if (!v) return internal("group " + g.name + ": no tensor " + t + " to fold into");
        if (g.fold == model::ScaleGroup::Fold::vector) {
            if (static_cast<int64_t>(v->size()) != width)
                return internal("group " + g.name + ": " + t + " is not of the input's width");
            for (int64_t c = 0; c < width; ++c)
                (*v)[static_cast<size_t>(c)] /= s[static_cast<size_t>(c)];
            continue;
        }
        // Rows of a linear's weight, or entries of its bias.
        int64_t cols = 1;
        for (const auto& l : linears)
            if (t == l.name + ".weight") cols = l.in;
        const int64_t rows = static_cast<int64_t>(v->size()) / cols;
        if (g.fold_row_offset < 0 || g.fold_row_offset + width > rows)
            return internal("group " + g.name + ": " + t + " has too few rows to fold into");
        for (int64_t c = 0; c < width; ++c) {
            const float sc = s[static_cast<size_t>(c)];
            const float f = g.fold == model::ScaleGroup::Fold::rows_sqrt ? std::sqrt(sc) : sc;
            float* row = v->data() + (g.fold_row_offset + c) * cols;
            for (int64_t k = 0; k < cols; ++k)
                row[k] /= f;
        }
    }
    return {};
}

}  // namespace

Result<FamilyAwqResult> awq_family_block(model::Model& model, const model::BlockTensors& fp,
                                         std::vector<model::Activations>& inputs,
                                         const LinearLayouts& layouts, const AwqOptions& opt) {
    if (opt.loss == AwqLoss::per_linear)
        return make_error(Errc::unsupported,
                          "AWQ with statistics only (a llama.cpp imatrix) is for the Llama "
                          "family; calibrate with --calib-text");
    const int layer = fp.layer;
    const std::vector<model::BlockLinear> linears = model.block_linears(layer);
    std::map<std::string, const model::BlockLinear*, std::less<>> by_name;
    for (const auto& l : linears)
        by_name[l.name] = &l;
    for (const auto& [name, layout] : layouts) {
        auto it = by_name.find(name);
        if (it == by_name.end()) return internal("no linear " + name + " in the block");
        if (static_cast<int64_t>(layout.rows) != it->second->out ||
            static_cast<int64_t>(layout.cols) != it->second->in)
            return internal("the layout of " + name + " is not its weight's shape");
    }

    // 1. Trace, and advance every window through the full-precision block.
    std::vector<int64_t> lengths;
    for (const auto& x : inputs)
        lengths.push_back(x.rows);
    const std::vector<size_t> loss_idx = awq_loss_windows(lengths, opt.loss_tokens);
    std::vector<model::Activations> loss_inputs;
    for (size_t k : loss_idx)
        loss_inputs.push_back(inputs[k]);
    std::map<std::string, LinearTrace, std::less<>> trace;
    bool recording = false;
    {
        const ObserverReset reset(model);
        model.set_linear_observer(
            [&](int, std::string_view name, const float* x, int64_t rows, int64_t cols) {
                auto lit = by_name.find(name);
                if (lit == by_name.end() || lit->second->in != cols) return;
                LinearTrace& t = trace[std::string(name)];
                if (t.abs_sum.empty()) t.abs_sum.assign(static_cast<size_t>(cols), 0.0);
                for (int64_t r = 0; r < rows; ++r)
                    for (int64_t c = 0; c < cols; ++c)
                        t.abs_sum[static_cast<size_t>(c)] +=
                            std::fabs(static_cast<double>(x[r * cols + c]));
                t.rows += static_cast<uint64_t>(rows);
                if (recording) {
                    t.x.insert(t.x.end(), x, x + rows * cols);
                    t.n += static_cast<uint64_t>(rows);
                }
            });
        size_t next_loss = 0;
        for (size_t k = 0; k < inputs.size(); ++k) {
            recording = next_loss < loss_idx.size() && loss_idx[next_loss] == k;
            if (recording) ++next_loss;
            SUTRA_TRY(model.run_block_with(fp, std::span<model::Activations>(&inputs[k], 1)));
        }
    }
    auto x_mean_of = [&](const std::string& name) -> Result<std::vector<float>> {
        auto it = trace.find(name);
        if (it == trace.end() || it->second.rows == 0)
            return internal("the block never reported the input of " + name);
        std::vector<float> m(it->second.abs_sum.size());
        for (size_t c = 0; c < m.size(); ++c)
            m[c] = static_cast<float>(it->second.abs_sum[c] / static_cast<double>(it->second.rows));
        return m;
    };

    FamilyAwqResult res;
    res.weights = fp;
    model::BlockTensors& w = res.weights;
    const std::vector<float> no_w_mean;
    std::vector<float> alphas;
    for (int i = 0; i < opt.grid; ++i)
        alphas.push_back(static_cast<float>(i) / static_cast<float>(opt.grid));
    if (opt.alpha) alphas = {0.0f, *opt.alpha};

    // 2. Scale search per group.
    for (const model::ScaleGroup& g : model.scale_groups(layer)) {
        std::vector<std::string> quantized;
        for (const std::string& l : g.linears)
            if (layouts.count(l)) quantized.push_back(l);
        AwqGroupReport rep;
        rep.group = g.name;
        if (quantized.empty()) {
            res.groups.push_back(rep);
            continue;
        }
        std::vector<float> xm;
        for (const std::string& l : g.linears) {
            SUTRA_ASSIGN(std::vector<float> m, x_mean_of(l));
            if (xm.empty()) xm.assign(m.size(), 0.0f);
            if (m.size() != xm.size())
                return internal("group " + g.name + ": inputs differ in width");
            for (size_t c = 0; c < m.size(); ++c)
                xm[c] += m[c] / static_cast<float>(g.linears.size());
        }
        // The reference output, with the current (unquantized) weights.
        std::vector<std::vector<float>> ref;
        if (!g.loss_module.empty()) {
            for (const auto& x : loss_inputs) {
                std::vector<float> out;
                SUTRA_TRY(model.run_module(w, g.loss_module, x, out));
                ref.push_back(std::move(out));
            }
        }
        model::BlockTensors trial = w;
        const auto loss_of = [&](size_t step) -> double {
            const auto s = quant::awq_scales(xm, no_w_mean, alphas[step]);
            for (const std::string& l : quantized)
                quant::scaled_fake_quantize(*w.find(l + ".weight"), layouts.find(l)->second, s,
                                            *trial.find(l + ".weight"), opt.threads);
            ++rep.alphas_evaluated;
            double e = 0.0;
            if (g.loss_module.empty()) {
                for (const std::string& l : quantized) {
                    const LinearTrace& t = trace.find(l)->second;
                    const model::BlockLinear& bl = *by_name.find(l)->second;
                    e += output_error(t.x, t.n, *trial.find(l + ".weight"), *w.find(l + ".weight"),
                                      bl.out, bl.in);
                }
                return e;
            }
            uint64_t count = 0;
            for (size_t k = 0; k < loss_inputs.size(); ++k) {
                std::vector<float> out;
                if (!model.run_module(trial, g.loss_module, loss_inputs[k], out).ok() ||
                    out.size() != ref[k].size())
                    return std::numeric_limits<double>::infinity();
                for (size_t i = 0; i < out.size(); ++i) {
                    const double d = static_cast<double>(out[i]) - static_cast<double>(ref[k][i]);
                    e += d * d;
                }
                count += out.size();
            }
            return count ? e / static_cast<double>(count) : 0.0;
        };
        for (const std::string& l : quantized) {
            if (!w.find(l + ".weight"))
                return internal("the block's tensors lack " + l + ".weight");
        }
        size_t best = 0;
        std::vector<double> losses;
        if (opt.alpha) {
            rep.loss_plain = loss_of(0);
            rep.loss_best = loss_of(1);
            best = 1;
        } else {
            best = quant::grid_search_min(alphas.size(),
                                          opt.search == AwqSearch::grid
                                              ? quant::GridSearch::full
                                              : quant::GridSearch::coarse_to_fine,
                                          loss_of, &losses);
            rep.loss_plain = losses[0];
            rep.loss_best = losses[best];
            rep.losses = std::move(losses);
        }
        rep.best_alpha = alphas[best];
        rep.searched = true;
        const auto s = quant::awq_scales(xm, no_w_mean, alphas[best]);
        for (const std::string& l : g.linears) {
            std::vector<float>* wl = w.find(l + ".weight");
            if (!wl) return internal("the block's tensors lack " + l + ".weight");
            quant::scale_columns(*wl, s.size(), s);
            res.input_scales[l] = s;
        }
        SUTRA_TRY(fold(w, g, linears, s));
        res.groups.push_back(std::move(rep));
    }

    // 3. Clipping on the scaled weights and inputs.
    if (opt.clip) {
        for (const auto& [name, layout] : layouts) {
            const model::BlockLinear& bl = *by_name.find(name)->second;
            if (!bl.clip_search) continue;
            auto tit = trace.find(name);
            if (tit == trace.end() || tit->second.n == 0) continue;
            std::vector<float> x = tit->second.x;
            if (auto sit = res.input_scales.find(name); sit != res.input_scales.end())
                for (uint64_t r = 0; r < tit->second.n; ++r)
                    for (int64_t c = 0; c < bl.in; ++c)
                        x[r * static_cast<uint64_t>(bl.in) + static_cast<uint64_t>(c)] /=
                            sit->second[static_cast<size_t>(c)];
            std::vector<float>& wl = *w.find(name + ".weight");
            const auto bounds =
                quant::search_clip(wl, layout, x, tit->second.n, opt.clip_options, opt.threads);
            quant::apply_clip(wl, layout, bounds);
        }
    }
    return res;
}

}  // namespace sutra::pipeline
