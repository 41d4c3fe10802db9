#pragma once
// How one quantization splits into parts that machines run independently
// (`sutra quantize --part K/N`, PARTS.md): which part runs which records, decided from the
// records alone, so every part (and the merge) computes the same split.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_format.hpp"

namespace sutra::parts {

struct PartIndex {
    size_t k = 0;  // 1-based
    size_t n = 0;
};

// Reads an environment variable (nullptr when unset); tests pass their own.
using EnvFn = std::function<const char*(const char*)>;

// "K/N" (1 <= K <= N), or "env": the scheduler's index, from a Slurm job array
// (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1 of SLURM_ARRAY_TASK_COUNT) or a Kubernetes
// Indexed Job (JOB_COMPLETION_INDEX + 1 of `parts`, which it needs). `parts` given with
// "K/N" must equal N.
Result<PartIndex> parse_part(std::string_view text, std::optional<size_t> parts, const EnvFn& env);

// OUT.part-K-of-N, next to OUT.
std::filesystem::path part_path(const std::filesystem::path& output, PartIndex p);

// The decoder block a tensor belongs to: the first dot-separated component of its name that
// is a number ("model.layers.12.mlp.up_proj.weight": 12, "blocks.3.att.key.weight": 3); -1
// for a tensor outside the blocks (embedding, final norm, head).
int block_of(std::string_view tensor);

// The part (1..n) of every record. Parts are contiguous runs of decoder blocks in block
// order, balanced by the records' original bytes; the tensors before the first block (in
// record order) go with the first part, the other tensors outside the blocks with the last.
// A model without blocks splits its records in record order instead. Fails when there are
// fewer blocks (or records) than parts.
// The last decoder block (block_of) with a record in `only` (a flag per record); `all` when
// `only` is null, -1 when it holds no block record. The layer loops of AWQ and GPTQ stop there.
int last_block(const std::vector<format::QbinRecord>& records, const std::vector<bool>* only,
               int all);

Result<std::vector<size_t>> assign_parts(const std::vector<format::QbinRecord>& records, size_t n);

}  // namespace sutra::parts
