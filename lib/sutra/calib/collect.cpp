#include "sutra/calib/collect.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

namespace sutra::calib {
namespace {

// Running sums of one linear's input.
struct Accumulator {
    std::vector<double> sum_abs, sum_sq;
    std::vector<float> max_abs;
    uint64_t rows = 0;

    explicit Accumulator(int64_t width)
        : sum_abs(static_cast<size_t>(width), 0.0),
          sum_sq(static_cast<size_t>(width), 0.0),
          max_abs(static_cast<size_t>(width), 0.0f) {}

    void add(const float* x, int64_t n_rows, int64_t cols) {
        for (int64_t r = 0; r < n_rows; ++r) {
            const float* row = x + r * cols;
            for (int64_t c = 0; c < cols; ++c) {
                const float a = std::fabs(row[c]);
                const auto ad = static_cast<double>(a);
                sum_abs[static_cast<size_t>(c)] += ad;
                sum_sq[static_cast<size_t>(c)] += ad * ad;
                // NaN never wins the comparison; it is caught by the finiteness check of the sums.
                max_abs[static_cast<size_t>(c)] = std::max(max_abs[static_cast<size_t>(c)], a);
            }
        }
        rows += static_cast<uint64_t>(n_rows);
    }
};

// Clears the model's observer on every return path.
class ObserverGuard {
  public:
    explicit ObserverGuard(model::Llama& m) : m_(m) {}
    ~ObserverGuard() { m_.set_linear_observer(nullptr); }
    ObserverGuard(const ObserverGuard&) = delete;
    ObserverGuard& operator=(const ObserverGuard&) = delete;

  private:
    model::Llama& m_;
};

}  // namespace

int32_t window_start_id(const model::LlamaConfig& cfg, int32_t bos_id) {
    if (bos_id >= 0) return bos_id;
    return cfg.bos_token_id >= 0 ? static_cast<int32_t>(cfg.bos_token_id) : 1;
}

Result<CalibrationData> collect_stats(model::Llama& model, std::span<const int32_t> text_tokens,
                                      const CollectOptions& options) {
    const model::LlamaConfig& cfg = model.config();
    if (options.window_batch < 1)
        return make_error(Errc::invalid_argument, "calibration: window_batch must be at least 1");
    const int32_t bos = window_start_id(cfg, options.bos_id);
    SUTRA_ASSIGN(Windows win, cut_windows(text_tokens, options.seq_len, options.max_tokens, bos));
    for (size_t i = 0; i < win.tokens.size(); ++i) {
        const int32_t id = win.tokens[i];
        if (id < 0 || id >= cfg.vocab_size) {
            const auto w = static_cast<int64_t>(i) / win.seq_len;
            const auto p = static_cast<int64_t>(i) % win.seq_len;
            return make_error(
                Errc::invalid_argument,
                "calibration: token " + std::to_string(p) + " of window " + std::to_string(w) +
                    " has id " + std::to_string(id) + ", not below the model's vocab_size " +
                    std::to_string(cfg.vocab_size) + " (tokens from another tokenizer?)");
        }
    }

    const std::vector<LinearInput> inputs = linear_inputs(cfg);
    const size_t per_block = 7;
    std::vector<Accumulator> acc;
    acc.reserve(inputs.size());
    for (const auto& in : inputs)
        acc.emplace_back(in.in_features);

    SUTRA_ASSIGN(std::vector<float> norm, model.weights().load("model.norm.weight"));
    if (static_cast<int64_t>(norm.size()) != cfg.hidden_size)
        return make_error(Errc::bad_format,
                          "tensor 'model.norm.weight' has " + std::to_string(norm.size()) +
                              " values, expected hidden_size " + std::to_string(cfg.hidden_size));

    Status observed;  // the first problem the observer saw
    const ObserverGuard guard(model);
    model.set_linear_observer([&](int layer, std::string_view linear, const float* x, int64_t rows,
                                  int64_t cols) {
        if (!observed.ok()) return;
        size_t k = 0;
        while (k < per_block && inputs[k].linear != linear)
            ++k;
        if (layer < 0 || layer >= cfg.num_hidden_layers || k == per_block) return;
        const size_t idx = static_cast<size_t>(layer) * per_block + k;
        if (cols != inputs[idx].in_features) {
            observed =
                make_error(Errc::internal, "calibration: input of " + inputs[idx].key + " has " +
                                               std::to_string(cols) + " columns, expected " +
                                               std::to_string(inputs[idx].in_features));
            return;
        }
        acc[idx].add(x, rows, cols);
    });

    const int64_t L = cfg.num_hidden_layers;
    const int64_t batches = (win.count + options.window_batch - 1) / options.window_batch;
    const int64_t total_steps = batches * (L + 1);
    int64_t steps = 0;
    auto step = [&]() -> Status {
        ++steps;
        if (options.progress && !options.progress(steps, total_steps))
            return make_error(Errc::interrupted, "calibration stopped after " +
                                                     std::to_string(steps) + " of " +
                                                     std::to_string(total_steps) + " steps");
        return {};
    };

    std::vector<model::Activations> xs;
    std::vector<float> h;
    for (int64_t first = 0; first < win.count; first += options.window_batch) {
        const int64_t last = std::min(win.count, first + options.window_batch);
        xs.resize(static_cast<size_t>(last - first));
        for (int64_t w = first; w < last; ++w) {
            std::span<const int32_t> ids(win.tokens.data() + w * win.seq_len,
                                         static_cast<size_t>(win.seq_len));
            SUTRA_TRY(model.embed(ids, 0, xs[static_cast<size_t>(w - first)]));
        }
        for (int l = 0; l < L; ++l) {
            SUTRA_TRY(model.run_block(l, xs));
            SUTRA_TRY(observed);
            SUTRA_TRY(step());
        }
        Accumulator& head = acc.back();
        for (const model::Activations& x : xs) {
            h.resize(x.data.size());
            model.norm(x.data.data(), norm, x.rows, h.data());
            head.add(h.data(), x.rows, x.cols);
        }
        SUTRA_TRY(step());
    }

    CalibrationData out;
    out.model = ModelFingerprint::of(cfg);
    out.seq_len = win.seq_len;
    out.windows = win.count;
    out.bos_id = bos;
    out.tokens = std::move(win.tokens);
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Accumulator& a = acc[i];
        ChannelStats s;
        s.tokens = a.rows;
        const auto n = static_cast<double>(a.rows);
        const size_t width = a.sum_abs.size();
        s.mean_abs.resize(width);
        s.mean_sq.resize(width);
        s.max_abs = a.max_abs;
        for (size_t c = 0; c < width; ++c) {
            const double ma = a.sum_abs[c] / n;
            const double ms = a.sum_sq[c] / n;
            if (!std::isfinite(ma) || !std::isfinite(ms) || !std::isfinite(a.max_abs[c]) ||
                ms > static_cast<double>(std::numeric_limits<float>::max()))
                return make_error(Errc::bad_format,
                                  "calibration: the input of " + inputs[i].key + " channel " +
                                      std::to_string(c) +
                                      " is not finite (the model overflows in f32 on this text)");
            s.mean_abs[c] = static_cast<float>(ma);
            s.mean_sq[c] = static_cast<float>(ms);
        }
        out.linears.emplace(inputs[i].key, std::move(s));
    }
    return out;
}

}  // namespace sutra::calib
