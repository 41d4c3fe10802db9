// The post-processors of tokenizer.json (the crate's processors/*.rs), for one sequence:
// TemplateProcessing, RobertaProcessing and BertProcessing put special tokens around the ids
// when special tokens are asked for; ByteLevel changes only offsets, so it leaves the ids as
// they are; Sequence runs its processors in order.
#include <limits>

#include "sutra/tokenize/json_fields.hpp"
#include "sutra/tokenize/json_values.hpp"
#include "sutra/tokenize/pipeline.hpp"
#include "sutra/tokenize/vocabulary.hpp"

namespace sutra::tokenize {
namespace {

using nlohmann::json;

constexpr const char* kSupportedPostProcessors =
    "TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence";
constexpr int kMaxSequenceDepth = 16;
constexpr std::size_t kMaxTemplatePieces = 1024;
constexpr std::size_t kMaxSpecialIds = 1024;

// The ids process() puts before the sequence: those before a marker id standing for it.
std::vector<int32_t> ids_before_sequence(const PostProcessor& p) {
    constexpr int32_t kMarker = std::numeric_limits<int32_t>::min();
    std::vector<int32_t> ids{kMarker};
    p.process(ids, true);
    std::vector<int32_t> out;
    for (int32_t id : ids) {
        if (id == kMarker) break;
        out.push_back(id);
    }
    return out;
}

class TemplateProcessor final : public PostProcessor {
  public:
    // A single-sequence template: the sequence (id < 0) or a special token's ids.
    std::vector<std::vector<int32_t>> pieces;  // empty vector = the sequence
    std::vector<bool> is_sequence;

    void process(std::vector<int32_t>& ids, bool add_special) const override {
        std::vector<int32_t> out;
        for (std::size_t k = 0; k < pieces.size(); ++k) {
            if (is_sequence[k])
                out.insert(out.end(), ids.begin(), ids.end());
            else if (add_special)
                out.insert(out.end(), pieces[k].begin(), pieces[k].end());
        }
        ids = std::move(out);
    }
    std::vector<int32_t> leading_ids() const override { return ids_before_sequence(*this); }
};

class NoOpProcessor final : public PostProcessor {
  public:
    void process(std::vector<int32_t>&, bool) const override {}
    std::vector<int32_t> leading_ids() const override { return {}; }
};

// RobertaProcessing and BertProcessing for one sequence: cls, the ids, sep.
class ClsSepProcessor final : public PostProcessor {
  public:
    ClsSepProcessor(int32_t cls, int32_t sep) : cls_(cls), sep_(sep) {}
    void process(std::vector<int32_t>& ids, bool add_special) const override {
        if (!add_special) return;
        std::vector<int32_t> out;
        out.reserve(ids.size() + 2);
        out.push_back(cls_);
        out.insert(out.end(), ids.begin(), ids.end());
        out.push_back(sep_);
        ids.swap(out);
    }
    std::vector<int32_t> leading_ids() const override { return {cls_}; }

  private:
    int32_t cls_;
    int32_t sep_;
};

class SequenceProcessor final : public PostProcessor {
  public:
    std::vector<std::unique_ptr<PostProcessor>> parts;
    void process(std::vector<int32_t>& ids, bool add_special) const override {
        for (const auto& p : parts)
            p->process(ids, add_special);
    }
    std::vector<int32_t> leading_ids() const override { return ids_before_sequence(*this); }
};

Result<int32_t> read_id(const json& v, const std::string& field) {
    SUTRA_ASSIGN(int64_t id, json_int_value(v, 0, kMaxTokenId, field));
    return static_cast<int32_t>(id);
}

// "sep": ["</s>", 2] of RobertaProcessing / BertProcessing.
Result<int32_t> read_token_pair(const json& j, const char* key, const std::string& what) {
    const std::string field = what + "." + key;
    const auto it = j.find(key);
    if (it == j.end() || !it->is_array() || it->size() != 2 || !(*it)[0].is_string())
        return json_field_error(field, "must be a pair [token, id]");
    return read_id((*it)[1], field + "[1]");
}

// One piece of a template: {"Sequence": {"id": "A", "type_id": 0}},
// {"SpecialToken": {"id": "<s>", "type_id": 0}}.
// Returns the special token's name, or "" for the sequence $A; refuses $B.
Result<std::string> read_template_piece(const json& p, const std::string& field) {
    std::string name;
    bool sequence = false;
    if (!p.is_object() || p.size() != 1)
        return json_field_error(field, "must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    for (const auto& [kind, body] : p.items()) {
        const std::string inner = field + "." + kind;
        if (kind != "Sequence" && kind != "SpecialToken")
            return json_field_error(field,
                                    "must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
        if (!body.is_object()) return json_field_error(inner, "must be an object with an \"id\"");
        SUTRA_TRY(json_optional_int(body, "type_id", 0, int64_t{0xFFFFFFFF}, inner));
        SUTRA_ASSIGN(std::string id, get_string(body, "id", inner));
        if (kind == "SpecialToken") {
            name = std::move(id);
        } else if (id == "B") {
            return json_field_error(inner, "the single-sequence template names sequence B");
        } else if (id != "A") {
            return json_field_error(inner + ".id", "must be \"A\" or \"B\"");
        } else {
            sequence = true;
        }
    }
    if (sequence) return std::string();
    if (name.empty()) return json_field_error(field, "names an empty special token");
    return name;
}

Result<std::unique_ptr<PostProcessor>> make_template(const json& j, const std::string& what) {
    // special_tokens: {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}, ...}
    std::unordered_map<std::string, std::vector<int32_t>> specials;
    if (const auto st = j.find("special_tokens"); st != j.end() && !st->is_null()) {
        if (!st->is_object())
            return json_field_error(what + ".special_tokens", "must be an object");
        for (auto it = st->begin(); it != st->end(); ++it) {
            const std::string field = what + ".special_tokens[\"" + it.key() + "\"]";
            if (!it->is_object())
                return json_field_error(field, "must be an object with \"ids\" and \"tokens\"");
            const auto ids = it->find("ids");
            if (ids == it->end() || !ids->is_array())
                return json_field_error(field, "needs an array \"ids\"");
            if (ids->size() > kMaxSpecialIds)
                return make_error(Errc::too_large, field + ".ids: more than " +
                                                       std::to_string(kMaxSpecialIds) + " ids");
            const auto tokens = it->find("tokens");
            if (tokens != it->end() && (!tokens->is_array() || tokens->size() != ids->size()))
                return json_field_error(field, "\"tokens\" must be an array as long as \"ids\"");
            std::vector<int32_t> v;
            for (std::size_t k = 0; k < ids->size(); ++k) {
                SUTRA_ASSIGN(int32_t id,
                             read_id((*ids)[k], field + ".ids[" + std::to_string(k) + "]"));
                v.push_back(id);
            }
            specials.emplace(it.key(), std::move(v));
        }
    }
    // Both templates must name known special tokens; only "single" is used.
    auto read_template = [&](const char* key, bool single, TemplateProcessor* out) -> Status {
        const std::string field = what + "." + key;
        const auto it = j.find(key);
        if (it == j.end() || it->is_null()) {
            if (single) return json_field_error(field, "is missing (the single-sequence template)");
            return {};
        }
        if (!it->is_array()) return json_field_error(field, "must be an array of pieces");
        if (it->size() > kMaxTemplatePieces)
            return make_error(Errc::too_large, field + ": more than " +
                                                   std::to_string(kMaxTemplatePieces) + " pieces");
        for (std::size_t k = 0; k < it->size(); ++k) {
            const std::string pf = field + "[" + std::to_string(k) + "]";
            std::string name;
            if (single) {
                SUTRA_ASSIGN(name, read_template_piece((*it)[k], pf));
            } else {
                // The pair template may name $B; only its special tokens are checked.
                const json& p = (*it)[k];
                if (p.is_object() && p.size() == 1 && p.begin().key() == "SpecialToken" &&
                    p.begin()->is_object()) {
                    SUTRA_ASSIGN(name, get_string(*p.begin(), "id", pf + ".SpecialToken"));
                }
            }
            if (!name.empty() && specials.find(name) == specials.end())
                return json_field_error(pf,
                                        "special token \"" + name + "\" is not in special_tokens");
            if (out) {
                out->is_sequence.push_back(name.empty());
                out->pieces.push_back(name.empty() ? std::vector<int32_t>{} : specials[name]);
            }
        }
        return {};
    };
    auto p = std::make_unique<TemplateProcessor>();
    SUTRA_TRY(read_template("single", true, p.get()));
    SUTRA_TRY(read_template("pair", false, nullptr));
    return std::unique_ptr<PostProcessor>(std::move(p));
}

Result<std::unique_ptr<PostProcessor>> make_post_processor_at(const json& j,
                                                              const std::string& what, int depth) {
    if (depth > kMaxSequenceDepth)
        return make_error(Errc::too_large, what + ": Sequence post-processors nested deeper than " +
                                               std::to_string(kMaxSequenceDepth));
    SUTRA_ASSIGN(std::string type, get_type(j, what));
    if (type == "TemplateProcessing") return make_template(j, what);
    if (type == "ByteLevel")
        return std::unique_ptr<PostProcessor>(std::make_unique<NoOpProcessor>());
    if (type == "RobertaProcessing" || type == "BertProcessing") {
        SUTRA_ASSIGN(int32_t sep, read_token_pair(j, "sep", what));
        SUTRA_ASSIGN(int32_t cls, read_token_pair(j, "cls", what));
        return std::unique_ptr<PostProcessor>(std::make_unique<ClsSepProcessor>(cls, sep));
    }
    if (type == "Sequence") {
        const auto it = j.find("processors");
        if (it == j.end() || !it->is_array())
            return json_field_error(what,
                                    "a Sequence post-processor needs an array \"processors\"");
        auto seq = std::make_unique<SequenceProcessor>();
        for (std::size_t k = 0; k < it->size(); ++k) {
            SUTRA_ASSIGN(auto part,
                         make_post_processor_at(
                             (*it)[k], what + ".processors[" + std::to_string(k) + "]", depth + 1));
            seq->parts.push_back(std::move(part));
        }
        return std::unique_ptr<PostProcessor>(std::move(seq));
    }
    return make_error(Errc::unsupported,
                      what + ": post-processor type \"" + type +
                          "\" is not supported (supported: " + kSupportedPostProcessors + ")");
}

}  // namespace

Result<std::unique_ptr<PostProcessor>> make_post_processor(const json& j, const std::string& what) {
    return make_post_processor_at(j, what, 0);
}

}  // namespace sutra::tokenize
