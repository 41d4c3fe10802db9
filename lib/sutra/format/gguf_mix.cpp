#include "sutra/format/gguf_mix.hpp"

#include <algorithm>
#include <cctype>

#include "sutra/base/suggest.hpp"

namespace sutra::format {

using quant::GgmlType;

namespace {

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

bool use_more_bits(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

bool is_quantized(GgmlType t) {
    return t != GgmlType::F32 && t != GgmlType::F16;
}

}  // namespace

Result<GgufTypeRequest> parse_gguf_type_request(const std::string& text) {
    GgufTypeRequest r;
    if (text.empty()) return r;
    const std::string u = upper(text);
    r.by_qbin = false;
    r.name = u;
    if (u == "Q4_K_M") {
        r.base = GgmlType::Q4_K;
        r.mix = GgufMix::q4_k_m;
        return r;
    }
    if (u == "Q5_K_M") {
        r.base = GgmlType::Q5_K;
        r.mix = GgufMix::q5_k_m;
        return r;
    }
    if (auto t = quant::parse_ggml_type(u)) {
        r.base = *t;
        r.name = quant::ggml_type_info(*t).name;
        return r;
    }
    std::vector<std::string> names;
    for (const auto& t : quant::ggml_types())
        names.emplace_back(t.name);
    names.emplace_back("Q4_K_M");
    names.emplace_back("Q5_K_M");
    std::string msg = "--gguf-type: unknown type \"" + text + "\"";
    const std::string hint = did_you_mean(text, names);
    if (!hint.empty()) msg += "; " + hint;
    return make_error(Errc::invalid_argument, msg + " (choices: " + join_names(names) + ")");
}

uint32_t gguf_file_type(const GgufTypeRequest& req, GgmlType most_common) {
    if (req.mix == GgufMix::q4_k_m) return 15;
    if (req.mix == GgufMix::q5_k_m) return 17;
    const GgmlType t = req.by_qbin ? most_common : req.base;
    switch (t) {
        case GgmlType::F32:
            return 0;
        case GgmlType::F16:
            return 1;
        case GgmlType::Q4_0:
            return 2;
        case GgmlType::Q4_1:
            return 3;
        case GgmlType::Q8_0:
            return 7;
        case GgmlType::Q5_0:
            return 8;
        case GgmlType::Q5_1:
            return 9;
        case GgmlType::Q4_K:
            return 14;  // Q4_K_S
        case GgmlType::Q5_K:
            return 16;  // Q5_K_S
        case GgmlType::Q6_K:
            return 18;
    }
    return 0;
}

GgufTypeChoice choose_gguf_type(const GgufTypeRequest& req, const GgufTensorFacts& t,
                                int n_layers) {
    GgufTypeChoice c;
    if (!t.two_d) return c;  // F32
    GgmlType want = req.base;
    if (req.by_qbin) {
        if (t.qbin_bits == 8)
            want = GgmlType::Q8_0;
        else if (t.qbin_bits > 0)
            want = GgmlType::Q4_1;
        else
            want = t.raw_f16 ? GgmlType::F16 : GgmlType::F32;
    } else if (is_quantized(req.base)) {
        const auto& bi = quant::ggml_type_info(req.base);
        if (t.is_head) {
            if (t.cols % bi.block_elems != 0 || req.base == GgmlType::Q8_0)
                want = GgmlType::Q8_0;
            else
                want = GgmlType::Q6_K;
        } else if (req.mix != GgufMix::none && t.block >= 0) {
            const bool v = t.name.ends_with(".attn_v.weight");
            const bool down = t.name.ends_with(".ffn_down.weight");
            if ((v || down) && use_more_bits(t.block, n_layers)) want = GgmlType::Q6_K;
        }
    }
    c.type = want;
    if (!quant::ggml_row_fits(want, t.cols)) {
        GgmlType fb = want;
        switch (want) {
            case GgmlType::Q4_K:
                fb = GgmlType::Q5_0;
                break;
            case GgmlType::Q5_K:
                fb = GgmlType::Q5_1;
                break;
            case GgmlType::Q6_K:
                fb = GgmlType::Q8_0;
                break;
            default:
                break;
        }
        if (!quant::ggml_row_fits(fb, t.cols)) fb = GgmlType::F16;
        const auto& wi = quant::ggml_type_info(want);
        c.note = std::string("fallback ") + wi.name + " -> " + quant::ggml_type_info(fb).name +
                 ": " + std::to_string(t.cols) + " columns are not whole blocks of " +
                 std::to_string(wi.block_elems);
        c.type = fb;
    }
    return c;
}

}  // namespace sutra::format
