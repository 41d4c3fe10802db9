// libFuzzer target: the GGUF header parser (format::parse_gguf_header) on a whole file image,
// with the file size known and unknown. Every input must give a header or an error value,
// never a crash, an exception or a large allocation. An accepted header is checked against
// the invariants the GGUF readers of sutra rely on.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "sutra/format/gguf_reader.hpp"
#include "sutra/quant/ggml_types.hpp"

namespace {

void check(const sutra::format::GgufHeader& h, uint64_t file_size) {
    using namespace sutra;
    if (h.alignment == 0 || (h.alignment & (h.alignment - 1)) != 0) std::abort();
    if (h.data_start < h.header_end || h.data_start % h.alignment != 0) std::abort();
    if (h.data_start - h.header_end >= h.alignment) std::abort();
    std::unordered_set<std::string> keys, names;
    for (const auto& [k, v] : h.metadata)
        if (k.empty() || !keys.insert(k).second) std::abort();
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& t : h.tensors) {
        if (t.name.empty() || t.name.size() > 63 || !names.insert(t.name).second) std::abort();
        if (t.dims.empty() || t.dims.size() > 4) std::abort();
        const auto* ti = quant::find_ggml_type(t.type_id);
        if (!ti || t.dims[0] % ti->block_elems != 0) std::abort();
        uint64_t n = 1;
        for (uint64_t d : t.dims) {
            if (d == 0 || __builtin_mul_overflow(n, d, &n)) std::abort();
        }
        if (n != t.numel) std::abort();
        if (t.nbytes != n / ti->block_elems * ti->block_bytes) std::abort();
        if (t.offset % h.alignment != 0) std::abort();
        if (file_size > 0 && h.data_start + t.offset + t.nbytes > file_size) std::abort();
        ranges.emplace_back(t.offset, t.offset + t.nbytes);
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i - 1].second > ranges[i].first) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> bytes(data, size);
    auto h = sutra::format::parse_gguf_header(bytes, size, "fuzz.gguf");
    if (h.ok())
        check(*h, size);
    else if (h.error().message.empty())
        std::abort();
    // The same bytes as the start of a file of unknown size.
    auto u = sutra::format::parse_gguf_header(bytes, 0, "fuzz.gguf");
    if (u.ok()) check(*u, 0);
    // Accepted with the size known implies accepted without it.
    if (h.ok() && !u.ok()) std::abort();
    return 0;
}
