#include "sutra/tokenize/sentencepiece_tokenizer.hpp"

#include <sentencepiece_processor.h>

#include "sutra/io/strict_json.hpp"

namespace sutra::tokenize {
namespace {

constexpr uint64_t kMaxModelBytes = uint64_t{256} << 20;

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer()
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

Result<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::parse(
    std::span<const uint8_t> bytes, const std::string& what, SentencePieceOptions options) {
    std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
    t->options_ = options;
    t->what_ = what;
    const auto st = t->sp_->LoadFromSerializedProto(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    if (!st.ok())
        return make_error(Errc::bad_format, what + ": not a valid SentencePiece model (" +
                                                std::string(st.message()) + ")");
    if (t->sp_->GetPieceSize() <= 0)
        return make_error(Errc::bad_format, what + ": the SentencePiece model has no pieces");
    return t;
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text, bool add_special) const {
    std::vector<int> ids;
    // The library fails only on a model it refused to load; parse() guarantees one.
    (void)sp_->Encode(text, &ids);
    std::vector<int32_t> out;
    out.reserve(ids.size() + 2);
    if (add_special && options_.add_bos && bos_id() >= 0) out.push_back(bos_id());
    out.insert(out.end(), ids.begin(), ids.end());
    if (add_special && options_.add_eos && eos_id() >= 0) out.push_back(eos_id());
    return out;
}

std::string SentencePieceTokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
    std::vector<int> keep;
    keep.reserve(ids.size());
    const int n = sp_->GetPieceSize();
    for (int32_t id : ids) {
        if (id < 0 || id >= n) continue;
        if (skip_special && sp_->IsControl(id)) continue;
        keep.push_back(id);
    }
    std::string text;
    (void)sp_->Decode(keep, &text);
    return text;
}

int64_t SentencePieceTokenizer::vocab_size() const {
    return sp_->GetPieceSize();
}

std::vector<int32_t> SentencePieceTokenizer::leading_special_ids() const {
    if (options_.add_bos && bos_id() >= 0) return {bos_id()};
    return {};
}

int32_t SentencePieceTokenizer::token_to_id(std::string_view token) const {
    const int id = sp_->PieceToId(token);
    // PieceToId answers unk_id for an unknown piece: only the unknown piece itself maps there.
    if (sp_->IsUnknown(id) && sp_->IdToPiece(id) != token) return -1;
    return id;
}

std::string SentencePieceTokenizer::describe() const {
    return what_ + " (SentencePiece, " + std::to_string(vocab_size()) + " tokens)";
}

int32_t SentencePieceTokenizer::bos_id() const {
    return sp_->bos_id();
}

int32_t SentencePieceTokenizer::eos_id() const {
    return sp_->eos_id();
}

Result<std::unique_ptr<Tokenizer>> load_sentencepiece_tokenizer(const std::filesystem::path& file) {
    SUTRA_ASSIGN(std::string bytes, io::read_small_file(file.string(), {64, kMaxModelBytes}));
    SentencePieceOptions opt;
    const auto cfg = file.parent_path() / "tokenizer_config.json";
    std::error_code ec;
    if (std::filesystem::is_regular_file(cfg, ec)) {
        SUTRA_ASSIGN(nlohmann::json j, io::read_strict_json_file(cfg.string()));
        for (auto [key, flag] :
             {std::pair{"add_bos_token", &opt.add_bos}, std::pair{"add_eos_token", &opt.add_eos}}) {
            auto it = j.find(key);
            if (it == j.end() || it->is_null()) continue;
            if (!it->is_boolean())
                return make_error(Errc::bad_format,
                                  cfg.string() + ": field \"" + key + "\" must be true or false");
            *flag = it->get<bool>();
        }
    }
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    SUTRA_ASSIGN(std::unique_ptr<SentencePieceTokenizer> t,
                 SentencePieceTokenizer::parse(std::span<const uint8_t>(p, bytes.size()),
                                               file.filename().string(), opt));
    return std::unique_ptr<Tokenizer>(std::move(t));
}

}  // namespace sutra::tokenize
