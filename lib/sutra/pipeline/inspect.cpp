#include "sutra/pipeline/inspect.hpp"

#include "sutra/format/qbin_format.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/pipeline/quantize_data_free.hpp"
#include "sutra/plan/config.hpp"
#include "sutra/quant/salience.hpp"
#include "sutra/tokenize/discovery.hpp"

namespace sutra::pipeline {

namespace {

void describe_tokenizer(const std::filesystem::path& dir, InspectReport& rep) {
    auto file = tokenize::find_tokenizer_file(dir);
    if (!file) {
        rep.tokenizer = "none found (tokenizer.json, tokenizer.model, tok512.bin)";
        return;
    }
    rep.tokenizer_file = file->path.string();
    auto t = tokenize::load_tokenizer(*file, 0);
    rep.tokenizer = t ? t->tokenizer->describe() : "unusable: " + t.error().message;
}

}  // namespace

Result<InspectReport> run_inspect(const std::filesystem::path& path,
                                  std::optional<double> salience_threshold) {
    SUTRA_ASSIGN(io::Checkpoint ck, io::Checkpoint::open(path));
    InspectReport rep;
    rep.path = path.string();
    for (const auto& f : ck.files())
        rep.files.push_back(f.path().string());
    rep.file_bytes = ck.total_file_bytes();
    bool is_qbin = false;
    for (const auto& [k, v] : ck.metadata())
        is_qbin = is_qbin || k == format::kProfileKey;
    if (!is_qbin) {
        rep.kind = ck.files().size() > 1 ? "sharded safetensors" : "safetensors";
        rep.metadata = ck.metadata();
        describe_tokenizer(ck.model_dir(), rep);
        for (const auto& t : ck.tensors())
            rep.tensors.push_back({t.name, std::string(dtype_name(t.dtype)),
                                   std::string(dtype_name(t.dtype)), "", t.shape, t.nbytes});
        if (salience_threshold) {
            for (const auto& g : find_norm_groups(ck)) {
                SUTRA_ASSIGN(std::vector<float> norm, ck.read_all_f32(ck.tensors()[g.norm]));
                const double share = quant::salient_share(norm, *salience_threshold);
                for (size_t li : g.linears)
                    rep.tensors[li].salient_share = share;
            }
        }
        return rep;
    }
    if (salience_threshold)
        return make_error(Errc::invalid_argument,
                          path.string() +
                              ": --salience reads an unquantized checkpoint "
                              "(the norms of a .qbin may carry folded scales)");
    SUTRA_ASSIGN(format::QbinFile q, format::QbinFile::open(path));
    rep.kind = "qbin";
    for (const auto& [k, v] : ck.metadata())
        if (k != format::kProfileKey) rep.metadata.emplace_back(k, v);
    rep.profile = q.profile();
    rep.profile.erase("tensors");
    for (const auto& r : q.records()) {
        uint64_t bytes = 0;
        for (size_t k = 0; k < r.stored.size(); ++k)
            bytes += q.stored_ref(r, k).nbytes;
        rep.tensors.push_back({r.name, std::string(dtype_name(r.dtype)),
                               r.quantized ? "q" + std::to_string(r.bits) : "raw",
                               r.quantized ? plan::group_size_text(r.group_size) : "", r.shape,
                               bytes});
    }
    return rep;
}

}  // namespace sutra::pipeline
