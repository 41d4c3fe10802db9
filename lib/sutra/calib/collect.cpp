#include "sutra/calib/collect.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string_view>

#include "sutra/model/llama/llama_family.hpp"

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
    explicit ObserverGuard(model::Model& m) : m_(m) {}
    ~ObserverGuard() { m_.set_linear_observer(nullptr); }
    ObserverGuard(const ObserverGuard&) = delete;
    ObserverGuard& operator=(const ObserverGuard&) = delete;

  private:
    model::Model& m_;
};

}  // namespace

int32_t window_start_id(const model::LlamaConfig& cfg, int32_t bos_id) {
    if (bos_id >= 0) return bos_id;
    return cfg.bos_token_id >= 0 ? static_cast<int32_t>(cfg.bos_token_id) : 1;
}

Result<CalibrationData> collect_stats(model::Llama& model, std::span<const int32_t> text_tokens,
                                      const CollectOptions& options) {
    const std::unique_ptr<model::Model> view = model::llama::view(model);
    return collect_stats(*view, text_tokens, options);
}

Result<CalibrationData> collect_stats(model::Model& model, std::span<const int32_t> text_tokens,
                                      const CollectOptions& options) {
    const model::ModelInfo& info = model.info();
    if (options.window_batch < 1)
        return make_error(Errc::invalid_argument, "calibration: window_batch must be at least 1");
    const int32_t bos = window_start_id(info, options.bos_id);
    SUTRA_ASSIGN(Windows win, cut_windows(text_tokens, options.seq_len, options.max_tokens, bos));
    for (size_t i = 0; i < win.tokens.size(); ++i) {
        const int32_t id = win.tokens[i];
        if (id < 0 || id >= info.vocab_size) {
            const auto w = static_cast<int64_t>(i) / win.seq_len;
            const auto p = static_cast<int64_t>(i) % win.seq_len;
            return make_error(
                Errc::invalid_argument,
                "calibration: token " + std::to_string(p) + " of window " + std::to_string(w) +
                    " has id " + std::to_string(id) + ", not below the model's vocab_size " +
                    std::to_string(info.vocab_size) + " (tokens from another tokenizer?)");
        }
    }

    const std::vector<LinearInput> inputs = linear_inputs(model);
    const auto L = static_cast<int>(info.num_layers);
    if (L > 0 && inputs.size() == 1)
        return make_error(Errc::unsupported, "calibration: the " + info.family +
                                                 " family does not list the linears of its "
                                                 "blocks, so sutra cannot record their inputs");
    // Where the observer's (layer, linear) goes: by_layer[layer] holds the indices into inputs.
    std::vector<std::vector<size_t>> by_layer(static_cast<size_t>(L));
    const size_t head = inputs.size() - 1;
    std::vector<Accumulator> acc;
    acc.reserve(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
        acc.emplace_back(inputs[i].in_features);
        if (i != head) by_layer[static_cast<size_t>(inputs[i].layer)].push_back(i);
    }

    Status observed;  // the first problem the observer saw
    const ObserverGuard guard(model);
    model.set_linear_observer([&](int layer, std::string_view linear, const float* x, int64_t rows,
                                  int64_t cols) {
        if (!observed.ok()) return;
        size_t idx = head;
        if (layer >= 0) {
            if (layer >= L) return;
            const std::vector<size_t>& in_layer = by_layer[static_cast<size_t>(layer)];
            auto it = std::find_if(in_layer.begin(), in_layer.end(),
                                   [&](size_t i) { return inputs[i].linear == linear; });
            if (it == in_layer.end()) return;
            idx = *it;
        } else if (layer != -1) {
            return;
        }
        if (cols != inputs[idx].in_features) {
            observed =
                make_error(Errc::internal, "calibration: input of " + inputs[idx].key + " has " +
                                               std::to_string(cols) + " columns, expected " +
                                               std::to_string(inputs[idx].in_features));
            return;
        }
        acc[idx].add(x, rows, cols);
    });

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
        SUTRA_TRY(model.observe_head(xs));
        SUTRA_TRY(observed);
        SUTRA_TRY(step());
    }

    CalibrationData out;
    out.model = ModelFingerprint::of(model);
    out.seq_len = win.seq_len;
    out.windows = win.count;
    out.bos_id = bos;
    out.tokens = std::move(win.tokens);
    const auto positions = static_cast<uint64_t>(out.windows * out.seq_len);
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Accumulator& a = acc[i];
        if (a.rows != positions)
            return make_error(Errc::internal,
                              "calibration: the forward pass reported the input of " +
                                  inputs[i].key + " for " + std::to_string(a.rows) +
                                  " tokens, expected " + std::to_string(positions) + " (the " +
                                  info.family + " family's block_linears and observer disagree)");
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
