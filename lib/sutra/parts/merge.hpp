#pragma once
// `sutra merge OUT.qbin.part-* -o OUT.qbin`: the parts of one `quantize --part K/N` run put
// together into the .qbin a single `quantize` with the same options writes, byte for byte.
// Every part is checked first (its own header, then against the others: the same run, each
// part once, none missing), and every data byte against its part's checksums as it is
// copied; on any error nothing is written.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::parts {

struct MergeOptions {
    std::vector<std::filesystem::path> parts;
    std::filesystem::path output;
    bool force = false;
};

struct MergeReport {
    std::string output;
    size_t parts = 0;
    size_t records = 0;
    uint64_t output_bytes = 0;
    std::string run;
    double seconds = 0;
};

Result<MergeReport> merge_parts(const MergeOptions& opt);

}  // namespace sutra::parts
