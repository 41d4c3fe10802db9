#pragma once
// llama.cpp's importance matrix ("imatrix") as calibration statistics for AWQ. The two layouts
// `llama-imatrix` writes are read: the legacy binary `imatrix.dat` and the GGUF-based one.
// Both hold, per weight matrix that llama.cpp multiplied during calibration, the mean over
// tokens of x^2 per input column; nothing else (no mean |x|, no maximum, no activations).
// What is accepted, the name map and the semantics are specified in IMATRIX.md beside this
// header.
//
// Two layers: pure parsers over the file's bytes (fuzzed: test/fuzz/fuzz_imatrix.cpp) that
// give the entries under llama.cpp's names, and a loader that maps those names to the
// checkpoint's linears (calib::linear_key) and checks them against the model's shape.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/calib/calibration.hpp"
#include "sutra/model/llama/llama_config.hpp"

namespace sutra::calib {

enum class ImatrixLayout { legacy, gguf };
std::string_view imatrix_layout_name(ImatrixLayout l);  // "legacy" or "gguf"

// One weight matrix of an imatrix, under llama.cpp's tensor name.
struct ImatrixEntry {
    std::string name;            // e.g. "blk.3.ffn_down.weight"
    std::vector<float> mean_sq;  // per input column: mean over tokens of x^2 (finite, >= 0)
    // Tokens the means are over: the GGUF `counts`; for the legacy layout, which stores only
    // the number of chunks, 0 (unknown).
    uint64_t tokens = 0;
};

// What the file says about how it was made (informative; never used for the quantization).
struct ImatrixInfo {
    ImatrixLayout layout = ImatrixLayout::legacy;
    std::vector<std::string> datasets;  // calibration text file names, as recorded
    int64_t chunk_count = -1;           // chunks (context windows) processed; -1 if not recorded
    int64_t chunk_size = -1;            // tokens per chunk (GGUF only); -1 if not recorded
};

struct Imatrix {
    ImatrixInfo info;
    std::vector<ImatrixEntry> entries;  // in file order, names unique
};

// Largest imatrix file read (a 70B-parameter model's is about 30 MB).
inline constexpr uint64_t kMaxImatrixBytes = uint64_t{1} << 30;

// What a --calib file is, from its first bytes (at least 16 when the file has them):
// GGUF magic -> imatrix_gguf; a safetensors-shaped start -> sutra_stats; the start of a legacy
// imatrix (entry count, name length, a printable name) -> imatrix_legacy; else unknown.
enum class CalibFileKind { sutra_stats, imatrix_legacy, imatrix_gguf, unknown };
CalibFileKind sniff_calib_file(std::span<const uint8_t> head, uint64_t file_size);

// Pure parsers over a whole file. `what` names the file in messages. bad_format (naming the
// byte offset and the entry) for anything truncated, inconsistent or out of range: a count or
// length larger than the bytes that remain, an empty or non-printable name, a duplicate name,
// a negative or non-finite value, a non-positive chunk or token count, trailing bytes;
// unsupported for a valid file sutra cannot use (an entry over several matrices: MoE experts).
Result<Imatrix> parse_imatrix_legacy(std::span<const uint8_t> bytes, const std::string& what);
Result<Imatrix> parse_imatrix_gguf(std::span<const uint8_t> bytes, const std::string& what);
// By the first bytes: GGUF magic -> parse_imatrix_gguf, else parse_imatrix_legacy.
Result<Imatrix> parse_imatrix(std::span<const uint8_t> bytes, const std::string& what);

// Maps an imatrix to calibration statistics of `config`'s model, by llama.cpp's tensor names
// (format/gguf_names.hpp: "blk.3.attn_q.weight" is model.layers.3.self_attn.q_proj,
// "output.weight" is lm_head; the same for llama, mistral, qwen2 and qwen3): linears[key].mean_sq
// and .tokens are filled (mean_abs and max_abs stay empty: an imatrix has neither), and q/k/v and
// gate/up, which share their input, each get the statistics of whichever of them the file has.
// No windows (tokens, windows and seq_len are 0): AWQ then runs its per-linear loss.
// Errors, each naming the file and the entry: unsupported for a name that is not a linear of
// this model family (a fused attn_qkv, MoE experts, another architecture's tensors);
// invalid_argument when the file was made for another model (a width that differs from this
// model's hidden_size, q width or intermediate_size, a layer index past num_hidden_layers, a
// layer without statistics for one of its four inputs), with the fix.
// The vocabulary size cannot be checked: no matrix in an imatrix has it as its input width.
Result<CalibrationData> imatrix_to_calibration(const Imatrix& m, const model::LlamaConfig& config,
                                               const std::string& what);

// Reads `path` (at most kMaxImatrixBytes) and maps it: parse_imatrix + imatrix_to_calibration.
// not_found / io for an unreadable file, invalid_argument for a folder, too_large above the
// limit. `info`, when given, receives what the file says about its making.
Result<CalibrationData> load_imatrix(const std::filesystem::path& path,
                                     const model::LlamaConfig& config, ImatrixInfo* info = nullptr);

// The kind of the file at `path` (reads its first bytes): for `--calib`, which accepts
// sutra's statistics and both imatrix layouts.
Result<CalibFileKind> sniff_calib_path(const std::filesystem::path& path);

}  // namespace sutra::calib
