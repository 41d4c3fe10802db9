// libFuzzer target: the llama.cpp importance-matrix parsers (calib::parse_imatrix: the legacy
// imatrix.dat layout, or the GGUF one by its magic) on a whole in-memory file, then the name
// map onto a small Llama-shaped model (calib::imatrix_to_calibration). Every input must give
// statistics or an error value, never a crash, an exception or unbounded work. What is
// accepted is checked against the invariants AWQ relies on.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <unordered_set>

#include "sutra/calib/imatrix_file.hpp"

namespace {

// One layer, hidden 8, two heads of 4 (one KV head), intermediate 12: the widths the seeds in
// corpus/imatrix/ are written for.
sutra::model::LlamaConfig fuzz_config() {
    sutra::model::LlamaConfig c;
    c.model_type = "llama";
    c.hidden_size = 8;
    c.intermediate_size = 12;
    c.num_hidden_layers = 1;
    c.num_attention_heads = 2;
    c.num_key_value_heads = 1;
    c.head_dim = 4;
    c.vocab_size = 32;
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> file(data, size);
    auto m = sutra::calib::parse_imatrix(file, "fuzz.imatrix");
    if (!m.ok()) {
        if (m.error().message.empty()) std::abort();
        return 0;
    }
    // Accepted: at least one entry, names unique and non-empty, every mean finite and >= 0,
    // and never more values than the file has bytes for (4 per value).
    if (m->entries.empty()) std::abort();
    std::unordered_set<std::string> names;
    uint64_t values = 0;
    for (const auto& e : m->entries) {
        if (e.name.empty() || !names.insert(e.name).second || e.mean_sq.empty()) std::abort();
        for (float v : e.mean_sq)
            if (!std::isfinite(v) || v < 0) std::abort();
        values += e.mean_sq.size();
    }
    if (values * 4 > size) std::abort();

    const auto config = fuzz_config();
    auto d = sutra::calib::imatrix_to_calibration(*m, config, "fuzz.imatrix");
    if (!d.ok()) {
        if (d.error().message.empty()) std::abort();
        return 0;
    }
    // Mapped: every block linear has statistics of its input width; no windows.
    for (const auto& li : sutra::calib::linear_inputs(config)) {
        const auto it = d->linears.find(li.key);
        if (it == d->linears.end()) {
            if (li.layer >= 0) std::abort();  // lm_head is optional
            continue;
        }
        if (static_cast<int64_t>(it->second.mean_sq.size()) != li.in_features) std::abort();
    }
    if (d->windows != 0 || !d->tokens.empty()) std::abort();
    return 0;
}
