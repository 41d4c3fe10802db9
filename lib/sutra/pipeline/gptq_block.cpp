#include "sutra/pipeline/gptq_block.hpp"

#include <chrono>

#include "sutra/base/thread_pool.hpp"
#include "sutra/model/blas.hpp"
#include "sutra/quant/awq.hpp"

namespace sutra::pipeline {
namespace {

using model::Activations;
using model::BlockWeights;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One matrix per stage for every window, stacked: window k's rows start at row offset[k].
struct Stacked {
    int64_t width = 0;
    std::vector<int64_t> offset;
    std::vector<float> data;
    Stacked(const std::vector<Activations>& xs, int64_t w) : width(w) {
        int64_t rows = 0;
        for (const auto& x : xs) {
            offset.push_back(rows);
            rows += x.rows;
        }
        data.assign(static_cast<size_t>(rows * w), 0.0f);
    }
    float* at(size_t k) { return data.data() + offset[k] * width; }
    uint64_t rows() const { return data.size() / static_cast<uint64_t>(width); }
};

template <class Weights>
auto& weight_of(Weights& w, size_t i) {
    decltype(&w.q) ws[7] = {&w.q, &w.k, &w.v, &w.o, &w.gate, &w.up, &w.down};
    return *ws[i];
}

class BlockRun {
  public:
    BlockRun(const model::Llama& llama, const BlockWeights& w, const BlockQuant& q,
             const GptqBlockOptions& opt)
        : llama_(llama), q_(q), opt_(opt), fp_(w), cur_(w) {}

    // Quantizes linears `lins` (sharing the input `x`), replacing them in the current
    // weights by what their codes decode to when the run is sequential.
    Status quantize(std::initializer_list<size_t> lins, const Stacked& x) {
        bool any = false;
        for (size_t i : lins)
            any = any || q_.quantize[i];
        if (!any) return {};
        auto t0 = Clock::now();
        quant::HessianSum h(static_cast<uint64_t>(x.width));
        h.add(x.data.data(), x.rows(), opt_.threads);
        res_.times.hessian += since(t0) * opt_.threads;
        if (hessians_) {  // collecting only
            const size_t first = *lins.begin();
            (*hessians_)[first <= 2 ? 0 : first == 3 ? 1 : first == 6 ? 3 : 2] = std::move(h);
            return {};
        }
        t0 = Clock::now();
        const std::string where =
            "layer " + std::to_string(fp_.layer) + " " + kBlockLinears[*lins.begin()];
        SUTRA_ASSIGN(const quant::GptqFactor f, quant::gptq_factor(h, opt_.gptq, where));
        res_.times.factor += since(t0);
        uint64_t dead = 0;
        for (uint8_t d : f.dead)
            dead += d;
        for (size_t i : lins) {
            if (!q_.quantize[i]) continue;
            const std::string name =
                "model.layers." + std::to_string(fp_.layer) + "." + kBlockLinears[i] + ".weight";
            t0 = Clock::now();
            SUTRA_ASSIGN(quant::GptqResult r,
                         quant::gptq_quantize(weight_of(fp_, i), q_.layout[i], f,
                                              "tensor '" + name + "'", opt_.threads));
            res_.times.update += since(t0) * opt_.threads;
            GptqLinearReport rep;
            rep.linear = kBlockLinears[i];
            rep.dead_columns = dead;
            std::vector<float> deq = quant::gptq_dequantize(r, q_.layout[i]);
            if (opt_.measure_error) {
                const auto& wi = weight_of(fp_, i);
                rep.error_gptq =
                    quant::hessian_output_error(wi, deq, h, q_.layout[i].rows, opt_.threads);
                rep.error_rtn = quant::hessian_output_error(
                    wi, quant::fake_quantize(wi, q_.layout[i]), h, q_.layout[i].rows, opt_.threads);
            }
            if (opt_.sequential) weight_of(cur_, i) = std::move(deq);
            res_.linears.push_back(std::move(rep));
            res_.quantized[i] = std::move(r);
        }
        return {};
    }

    Status run(std::vector<Activations>& xs) {
        const auto& c = llama_.config();
        const int64_t H = c.hidden_size, QW = c.q_width(), I = c.intermediate_size;
        const model::SingleThreadedBlas single_threaded;
        const unsigned th = opt_.threads;
        const auto forward = [&](const std::function<void(size_t)>& fn) {
            const auto t0 = Clock::now();
            parallel_for(xs.size(), th, fn);
            res_.times.forward += since(t0) * th;
        };
        // q, k, v on the normalised input.
        Stacked xn(xs, H);
        forward([&](size_t k) {
            llama_.norm(xs[k].data.data(), cur_.input_norm, xs[k].rows, xn.at(k));
        });
        SUTRA_TRY(quantize({0, 1, 2}, xn));
        // o on the attention's output.
        Stacked ain(xs, QW);
        {
            Stacked scratch(xs, H);
            forward([&](size_t k) {
                llama_.attention_sublayer(cur_, xn.at(k), xs[k].rows, xs[k].first_position,
                                          scratch.at(k), ain.at(k));
            });
        }
        xn.data = {};
        SUTRA_TRY(quantize({3}, ain));
        // gate, up on the normalised residual after attention.
        Stacked mid(xs, H), xn2(xs, H);
        forward([&](size_t k) {
            const int64_t T = xs[k].rows;
            float* m = mid.at(k);
            model::matmul_wt(ain.at(k), T, QW, cur_.o.data(), H, m);
            for (int64_t r = 0; r < T; ++r)
                for (int64_t j = 0; j < H; ++j)
                    m[r * H + j] +=
                        xs[k].data[static_cast<size_t>(r * H + j)] +
                        (cur_.o_bias.empty() ? 0.0f : cur_.o_bias[static_cast<size_t>(j)]);
            llama_.norm(m, cur_.post_norm, T, xn2.at(k));
        });
        ain.data = {};
        SUTRA_TRY(quantize({4, 5}, xn2));
        // down on the gated activation.
        Stacked act(xs, I);
        {
            Stacked scratch(xs, H);
            forward([&](size_t k) {
                llama_.mlp_sublayer(cur_, xn2.at(k), xs[k].rows, scratch.at(k), act.at(k));
            });
        }
        xn2.data = {};
        SUTRA_TRY(quantize({6}, act));
        if (hessians_) return {};  // collecting only: the inputs stay
        // The block's output: the next block's input.
        forward([&](size_t k) {
            const int64_t T = xs[k].rows;
            model::matmul_wt(act.at(k), T, I, cur_.down.data(), H, xs[k].data.data());
            const float* m = mid.at(k);
            for (int64_t i = 0; i < T * H; ++i)
                xs[k].data[static_cast<size_t>(i)] += m[i];
        });
        return {};
    }

    GptqBlockResult take() { return std::move(res_); }
    void collect_only(BlockHessians* h) { hessians_ = h; }

  private:
    const model::Llama& llama_;
    const BlockQuant& q_;
    const GptqBlockOptions& opt_;
    const BlockWeights& fp_;
    BlockWeights cur_;  // the weights the block runs with: quantized so far when sequential
    GptqBlockResult res_;
    BlockHessians* hessians_ = nullptr;  // set: only collect the Hessian sums
};

}  // namespace

Result<BlockHessians> block_hessians(const model::Llama& llama, const BlockWeights& w,
                                     std::vector<Activations>& xs, const BlockQuant& q,
                                     unsigned threads) {
    GptqBlockOptions opt;
    opt.threads = threads;
    opt.sequential = false;
    BlockHessians h;
    BlockRun run(llama, w, q, opt);
    run.collect_only(&h);
    SUTRA_TRY(run.run(xs));
    return h;
}

Result<GptqBlockResult> gptq_block(const model::Llama& llama, const BlockWeights& w,
                                   std::vector<Activations>& xs, const BlockQuant& q,
                                   const GptqBlockOptions& opt) {
    BlockRun run(llama, w, q, opt);
    SUTRA_TRY(run.run(xs));
    return run.take();
}

}  // namespace sutra::pipeline
