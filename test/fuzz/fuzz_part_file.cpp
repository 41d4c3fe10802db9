// libFuzzer target: the header of a `sutra quantize --part K/N` part file
// (parts::parse_part_header) on a whole in-memory file. Every input must give a part or an
// error value, never a crash, an exception or unbounded work. What is accepted is checked
// against what the merge relies on.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "sutra/format/qbin_format.hpp"
#include "sutra/parts/part_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> file(data, size);
    uint64_t offset = 0, bytes = 0;
    sutra::parts::PartLimits limits;
    limits.max_records = 4096;
    auto run = sutra::parts::parse_part_header(file, size, "fuzz.part", &offset, &bytes, limits);
    if (!run.ok()) {
        if (run.error().message.empty()) std::abort();
        return 0;
    }
    // Accepted: the part is one of 1..n, the file is exactly header + the data of its own
    // records, only its records carry checksums (one per stored tensor), the run id is its own
    // and the split the records give puts exactly its records in this part.
    const auto& r = *run;
    if (r.index.k == 0 || r.index.k > r.index.n) std::abort();
    if (r.ours.size() != r.records.size() || offset + bytes != size) std::abort();
    uint64_t sum = 0;
    for (size_t i = 0; i < r.records.size(); ++i) {
        const auto& rec = r.records[i];
        if (r.ours[i] != (rec.xxh3.size() == rec.stored.size() && !rec.stored.empty()))
            std::abort();
        if (r.ours[i])
            for (const auto& t : sutra::format::stored_tensors(rec))
                sum += t.nbytes;
    }
    if (sum != bytes) std::abort();
    auto split = sutra::parts::assign_parts(r.records, r.index.n);
    if (!split.ok()) std::abort();
    for (size_t i = 0; i < r.records.size(); ++i)
        if (r.ours[i] != ((*split)[i] == r.index.k)) std::abort();
    return 0;
}
