#pragma once
// The per-tensor plan: for every tensor of a checkpoint, whether it is quantized (and how) or
// stored unchanged, and the exact bytes it will occupy in the output. Built before any tensor
// data is read, so the output size is known up front.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/plan/config.hpp"
#include "sutra/quant/layout.hpp"

namespace sutra::plan {

struct Overrides {
    std::optional<int> bits;             // --bits: every quantized tensor
    std::optional<uint32_t> group_size;  // --group-size: every quantized tensor (0 = row)
};

struct TensorPlan {
    size_t index = 0;  // into Checkpoint::tensors()
    Role role = Role::other;
    bool quantize = false;
    std::string keep_reason;  // why it is stored unchanged
    int bits = 0;
    uint32_t group_size = 0;    // as configured (0 = row)
    quant::QuantLayout layout;  // valid when quantize
    uint64_t input_bytes = 0;
    uint64_t stored_bytes = 0;  // data bytes in the output
};

struct Plan {
    QuantConfig config;
    Overrides overrides;
    std::vector<TensorPlan> tensors;
    uint64_t input_data_bytes = 0;
    uint64_t stored_data_bytes = 0;
    size_t quantized_count() const;
};

// What a model family says of a tensor it needs kept whatever the rules say (RWKV's 2-D
// time-mix and decay parameters): the reason, or "" when it has no objection.
using FamilyKeep = std::function<std::string(std::string_view tensor)>;

Result<Plan> make_plan(const io::Checkpoint& ck, const QuantConfig& config,
                       const Overrides& overrides, const FamilyKeep& family_keep = {});

}  // namespace sutra::plan
