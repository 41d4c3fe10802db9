// make_model: the "model" of tokenizer.json, by its "type".
#include "sutra/tokenize/json_fields.hpp"
#include "sutra/tokenize/model_bpe.hpp"
#include "sutra/tokenize/model_unigram.hpp"
#include "sutra/tokenize/pipeline.hpp"

namespace sutra::tokenize {

Result<std::unique_ptr<Model>> make_model(const nlohmann::json& j, const std::string& what) {
    if (!j.is_object()) return make_error(Errc::bad_format, what + ": must be a JSON object");
    std::string type;
    if (j.contains("type")) {
        SUTRA_ASSIGN(type, get_type(j, what));
    } else if (j.contains("merges")) {
        type = "BPE";  // files written before the crate tagged models with a type
    } else if (j.contains("vocab") && j["vocab"].is_array()) {
        type = "Unigram";
    } else {
        return make_error(Errc::bad_format, what + ": has no \"type\" (BPE or Unigram)");
    }
    if (type == "BPE") return make_bpe_model(j, what);
    if (type == "Unigram") return make_unigram_model(j, what);
    return make_error(Errc::unsupported, what + ": model type \"" + type +
                                             "\" is not supported (supported: BPE, " + "Unigram)");
}

}  // namespace sutra::tokenize
