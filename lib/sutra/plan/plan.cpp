#include "sutra/plan/plan.hpp"

#include "sutra/quant/quant_type.hpp"

namespace sutra::plan {

size_t Plan::quantized_count() const {
    size_t n = 0;
    for (const auto& t : tensors)
        n += t.quantize ? 1 : 0;
    return n;
}

Result<Plan> make_plan(const io::Checkpoint& ck, const QuantConfig& config,
                       const Overrides& overrides, const FamilyKeep& family_keep) {
    Plan p;
    p.config = config;
    p.overrides = overrides;
    const auto& all = ck.tensors();
    for (size_t i = 0; i < all.size(); ++i) {
        const auto& t = all[i];
        TensorPlan tp;
        tp.index = i;
        tp.role = classify_tensor(t.name);
        tp.input_bytes = t.nbytes;
        Settings s = config.resolve(t.name, tp.role);
        if (!dtype_is_float_quantizable(t.dtype)) {
            tp.keep_reason = "dtype " + std::string(dtype_name(t.dtype)) + " is not quantized";
        } else if (t.shape.size() != 2) {
            tp.keep_reason = t.shape.size() == 1 ? "1-D" : "rank " + std::to_string(t.shape.size());
        } else if (t.numel == 0) {
            tp.keep_reason = "empty";
        } else if (s.keep.value_or(false)) {
            tp.keep_reason = "kept by rule";
        } else if (std::string why = family_keep ? family_keep(t.name) : std::string();
                   !why.empty()) {
            tp.keep_reason = why;
        } else {
            if (overrides.bits) s.bits = overrides.bits;
            if (overrides.group_size) s.group_size = overrides.group_size;
            if (!s.bits || !s.group_size)
                return make_error(Errc::invalid_argument,
                                  config.name + ": tensor '" + t.name +
                                      "' is to be quantized but the config gives no " +
                                      (s.bits ? "group_size" : "bits") +
                                      " for it; set it in \"default\"");
            tp.quantize = true;
            tp.bits = *s.bits;
            tp.group_size = *s.group_size;
            tp.layout = quant::make_layout(t.shape[0], t.shape[1], tp.bits, tp.group_size);
        }
        tp.stored_bytes = tp.quantize ? tp.layout.total_bytes() : t.nbytes;
        p.input_data_bytes += tp.input_bytes;
        p.stored_data_bytes += tp.stored_bytes;
        p.tensors.push_back(std::move(tp));
    }
    return p;
}

}  // namespace sutra::plan
