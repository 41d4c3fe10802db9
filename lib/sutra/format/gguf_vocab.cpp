#include "sutra/format/gguf_vocab.hpp"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "sutra/io/strict_json.hpp"
#include "sutra/model/tokenizer.hpp"

namespace sutra::format {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMaxTokenizerBytes = uint64_t{256} << 20;
constexpr int64_t kMaxVocab = int64_t{1} << 21;  // 2 M ids, far above any real vocabulary

// The pre-tokenizer regexes llama.cpp implements under these names (llama-vocab.cpp), as
// tokenizer.json files spell them.
constexpr std::string_view kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const std::string kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's space

std::string escape_spaces(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == ' ')
            out += kSpace;
        else
            out += c;
    }
    return out;
}

bool is_byte_token(const std::string& t) {
    auto hex = [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    };
    return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

// convert_hf_to_gguf.py does_token_look_special.
bool looks_special(const std::string& t) {
    auto wrapped = [&](std::string_view a, std::string_view b) {
        return t.size() >= a.size() + b.size() && t.starts_with(a) && t.ends_with(b);
    };
    return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" ||
           wrapped("<|", "|>") || wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>") ||
           wrapped("<unused", ">");
}

Error bad(const fs::path& f, const std::string& msg) {
    return make_error(Errc::bad_format, f.string() + ": " + msg);
}

// A tokenizer_config.json token entry: a string or {"content": string}.
std::optional<std::string> token_text(const json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_object()) {
        auto it = j.find("content");
        if (it != j.end() && it->is_string()) return it->get<std::string>();
    }
    return std::nullopt;
}

struct SideFiles {
    std::optional<json> tokenizer_config;
};

Result<SideFiles> read_side_files(const fs::path& dir) {
    SideFiles s;
    std::error_code ec;
    const fs::path cfg = dir / "tokenizer_config.json";
    if (fs::is_regular_file(cfg, ec)) {
        SUTRA_ASSIGN(json j, io::read_strict_json_file(cfg.string(), {64, kMaxTokenizerBytes}));
        if (!j.is_object()) return bad(cfg, "the root is not an object");
        s.tokenizer_config = std::move(j);
    }
    return s;
}

void pad_to(GgufVocab& v, int64_t n) {
    for (int64_t i = static_cast<int64_t>(v.tokens.size()); i < n; ++i) {
        v.tokens.push_back("[PAD" + std::to_string(i) + "]");
        v.types.push_back(static_cast<int32_t>(GgufTokenType::unused));
        if (v.model == "llama") v.scores.push_back(-1000.0f);
    }
}

Status check_size(const fs::path& f, int64_t have, const VocabContext& ctx) {
    if (ctx.vocab_size > 0 && have > ctx.vocab_size)
        return make_error(Errc::invalid_argument,
                          f.string() + ": the tokenizer has " + std::to_string(have) +
                              " tokens, more than config.json's vocab_size " +
                              std::to_string(ctx.vocab_size) + "; pass the model's own tokenizer");
    if (have > kMaxVocab)
        return make_error(Errc::too_large, f.string() + ": " + std::to_string(have) +
                                               " tokens is more than sutra writes");
    return {};
}

// tokenizer_config.json: add_bos_token / add_eos_token / chat_template.
void apply_config_flags(GgufVocab& v, const SideFiles& side) {
    if (!side.tokenizer_config) return;
    const json& c = *side.tokenizer_config;
    if (auto it = c.find("add_bos_token"); it != c.end() && it->is_boolean())
        v.add_bos = it->get<bool>();
    if (auto it = c.find("add_eos_token"); it != c.end() && it->is_boolean())
        v.add_eos = it->get<bool>();
    if (auto it = c.find("chat_template"); it != c.end() && it->is_string())
        v.chat_template = it->get<std::string>();
}

// config.json ids for what is still unset (gguf-py SpecialVocab._try_load_from_config_json).
void apply_config_ids(GgufVocab& v, const VocabContext& ctx) {
    const auto n = static_cast<int64_t>(v.tokens.size());
    if (v.bos < 0 && ctx.config_bos >= 0 && ctx.config_bos < n) v.bos = ctx.config_bos;
    if (v.eos < 0 && !ctx.config_eos.empty() && ctx.config_eos.front() >= 0 &&
        ctx.config_eos.front() < n)
        v.eos = ctx.config_eos.front();
}

// ---- llama2.c ----

Result<GgufVocab> from_llama2c(const fs::path& f, const VocabContext& ctx) {
    SUTRA_ASSIGN(model::Tokenizer tok, model::Tokenizer::load(f));
    SUTRA_TRY(check_size(f, tok.vocab_size(), ctx));
    GgufVocab v;
    v.model = "llama";
    v.pre = "default";
    v.source = f.filename().string() + " (llama2.c)";
    for (int32_t id = 0; id < tok.vocab_size(); ++id) {
        std::string text = tok.piece(id);
        GgufTokenType type = GgufTokenType::normal;
        if (id == 0) {
            text = "<unk>";
            type = GgufTokenType::unknown;
        } else if (id == model::Tokenizer::kBos) {
            text = "<s>";
            type = GgufTokenType::control;
        } else if (id == model::Tokenizer::kEos) {
            text = "</s>";
            type = GgufTokenType::control;
        } else if (text.empty()) {
            type = GgufTokenType::control;
        } else if (is_byte_token(text)) {
            type = GgufTokenType::byte;
        }
        v.tokens.push_back(escape_spaces(text));
        v.scores.push_back(tok.score(id));
        v.types.push_back(static_cast<int32_t>(type));
    }
    v.unk = 0;
    v.bos = model::Tokenizer::kBos;
    v.eos = model::Tokenizer::kEos;
    v.add_bos = true;
    v.add_eos = false;
    pad_to(v, ctx.vocab_size);
    return v;
}

// ---- SentencePiece ----

Result<GgufVocab> from_sentencepiece(const fs::path& f, const VocabContext& ctx,
                                     const json* tokenizer_json) {
    SUTRA_ASSIGN(std::string bytes, io::read_small_file(f.string(), {64, kMaxTokenizerBytes}));
    sentencepiece::SentencePieceProcessor sp;
    const auto st = sp.LoadFromSerializedProto(bytes);
    if (!st.ok())
        return bad(f, "not a valid SentencePiece model (" + std::string(st.message()) + ")");
    const int n = sp.GetPieceSize();
    if (n <= 0) return bad(f, "the SentencePiece model has no pieces");
    const int64_t size = ctx.vocab_size > 0 ? ctx.vocab_size : n;
    if (size > kMaxVocab) return make_error(Errc::too_large, f.string() + ": vocabulary too large");
    GgufVocab v;
    v.model = "llama";
    v.pre = "default";
    v.source = f.filename().string() + " (SentencePiece)";
    for (int64_t i = 0; i < size; ++i) {
        v.tokens.push_back("[PAD" + std::to_string(i) + "]");
        v.scores.push_back(-10000.0f);
        v.types.push_back(static_cast<int32_t>(GgufTokenType::unused));
    }
    for (int id = 0; id < n && id < size; ++id) {
        GgufTokenType type = GgufTokenType::normal;
        if (sp.IsUnknown(id))
            type = GgufTokenType::unknown;
        else if (sp.IsControl(id))
            type = GgufTokenType::control;
        else if (sp.IsUnused(id))
            type = GgufTokenType::unused;
        else if (sp.IsByte(id))
            type = GgufTokenType::byte;
        const auto i = static_cast<size_t>(id);
        v.tokens[i] = sp.IdToPiece(id);
        v.scores[i] = sp.GetScore(id);
        v.types[i] = static_cast<int32_t>(type);
    }
    SUTRA_ASSIGN(SideFiles side, read_side_files(f.parent_path()));
    if (side.tokenizer_config) {
        const json& c = *side.tokenizer_config;
        auto it = c.find("added_tokens_decoder");
        if (it != c.end() && it->is_object()) {
            for (const auto& [key, entry] : it->items()) {
                int64_t id = -1;
                try {
                    size_t used = 0;
                    id = std::stoll(key, &used);
                    if (used != key.size()) id = -1;
                } catch (...) {
                    id = -1;
                }
                auto content = token_text(entry);
                if (id < 0 || id >= size || !content) continue;  // the converter skips these
                const bool special = entry.is_object() && entry.value("special", false);
                const auto i = static_cast<size_t>(id);
                if (special || looks_special(*content)) {
                    v.types[i] = static_cast<int32_t>(GgufTokenType::control);
                    v.tokens[i] = *content;
                } else {
                    v.types[i] = static_cast<int32_t>(GgufTokenType::user_defined);
                    std::string t = *content;
                    for (size_t p; (p = t.find(kSpace)) != std::string::npos;)
                        t.replace(p, kSpace.size(), " ");
                    v.tokens[i] = t;
                }
                v.scores[i] = -1000.0f;
            }
        }
    }
    apply_config_flags(v, side);
    // Special ids: tokenizer_config.json names among tokenizer.json's added tokens (when
    // there is one beside), then config.json, then the model's own.
    if (tokenizer_json && side.tokenizer_config) {
        const json& c = *side.tokenizer_config;
        auto added = tokenizer_json->find("added_tokens");
        auto lookup = [&](const char* field) -> int64_t {
            auto e = c.find(field);
            if (e == c.end() || added == tokenizer_json->end() || !added->is_array()) return -1;
            auto text = token_text(*e);
            if (!text) return -1;
            for (const auto& a : *added)
                if (a.is_object() && a.value("content", std::string()) == *text &&
                    a.contains("id") && a["id"].is_number_unsigned()) {
                    const auto id = a["id"].get<int64_t>();
                    return id < size ? id : -1;
                }
            return -1;
        };
        v.bos = lookup("bos_token");
        v.eos = lookup("eos_token");
        v.unk = lookup("unk_token");
        v.pad = lookup("pad_token");
    }
    apply_config_ids(v, ctx);
    if (v.bos < 0 && sp.bos_id() >= 0) v.bos = sp.bos_id();
    if (v.eos < 0 && sp.eos_id() >= 0) v.eos = sp.eos_id();
    if (v.unk < 0 && sp.unk_id() >= 0) v.unk = sp.unk_id();
    if (v.pad < 0 && sp.pad_id() >= 0) v.pad = sp.pad_id();
    return v;
}

// ---- tokenizer.json ----

// The pre-tokenizer's llama.cpp name (see the header), or an error naming what it is.
Result<std::string> pre_tokenizer_name(const fs::path& f, const json& j) {
    auto it = j.find("pre_tokenizer");
    if (it == j.end() || !it->is_object())
        return make_error(Errc::unsupported,
                          f.string() +
                              ": a byte-level BPE tokenizer without a pre-tokenizer; "
                              "llama.cpp has no matching pre-tokenizer");
    std::vector<const json*> parts;
    if (it->value("type", std::string()) == "Sequence" && it->contains("pretokenizers") &&
        (*it)["pretokenizers"].is_array()) {
        for (const auto& p : (*it)["pretokenizers"])
            parts.push_back(&p);
    } else {
        parts.push_back(&*it);
    }
    auto type_of = [](const json* p) {
        return p->is_object() ? p->value("type", std::string()) : "";
    };
    auto use_regex = [](const json* p) {
        auto u = p->find("use_regex");
        return u == p->end() || !u->is_boolean() || u->get<bool>();
    };
    if (parts.size() == 1 && type_of(parts[0]) == "ByteLevel" && use_regex(parts[0]))
        return std::string("gpt-2");
    if (parts.size() == 2 && type_of(parts[0]) == "Split" && type_of(parts[1]) == "ByteLevel" &&
        !use_regex(parts[1])) {
        const json& pat = parts[0]->contains("pattern") ? (*parts[0])["pattern"] : json();
        if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string()) {
            const std::string re = pat["Regex"].get<std::string>();
            if (re == kQwen2Regex) return std::string("qwen2");
            if (re == kLlama3Regex) return std::string("llama-bpe");
        }
    }
    std::string desc = it->dump();
    if (desc.size() > 160) desc = desc.substr(0, 160) + "...";
    return make_error(Errc::unsupported,
                      f.string() + ": pre-tokenizer " + desc +
                          " is none of those sutra maps to llama.cpp's (GPT-2's ByteLevel, "
                          "Qwen2's or Llama 3's Split regex); llama.cpp would split text "
                          "differently");
}

bool has_byte_level(const json& j) {
    bool found = false;
    auto walk = [&](const json& x, auto&& self) -> void {
        if (found) return;
        if (x.is_object()) {
            if (x.value("type", std::string()) == "ByteLevel") found = true;
            for (const auto& [k, v] : x.items())
                self(v, self);
        } else if (x.is_array()) {
            for (const auto& v : x)
                self(v, self);
        }
    };
    for (const char* k : {"pre_tokenizer", "decoder"})
        if (j.contains(k)) walk(j[k], walk);
    return found;
}

struct HfTokens {
    std::vector<std::string> by_id;  // "" where no token
    std::vector<bool> present;
    std::vector<bool> added, special;
};

Result<HfTokens> hf_tokens(const fs::path& f, const json& j, const VocabContext& ctx) {
    const json& m = j["model"];
    auto vit = m.find("vocab");
    if (vit == m.end() || !vit->is_object()) return bad(f, "model.vocab is not an object");
    int64_t max_id = -1;
    auto check_id = [&](const json& id, const std::string& where) -> Result<int64_t> {
        if (!id.is_number_unsigned()) return bad(f, where + ": the id is not a whole number >= 0");
        const uint64_t x = id.get<uint64_t>();
        if (x >= static_cast<uint64_t>(kMaxVocab))
            return make_error(Errc::too_large, f.string() + ": " + where + ": id " +
                                                   std::to_string(x) + " is too large");
        return static_cast<int64_t>(x);
    };
    std::vector<std::pair<int64_t, std::string>> entries;
    for (const auto& [tok, id] : vit->items()) {
        SUTRA_ASSIGN(int64_t x, check_id(id, "model.vocab[\"" + tok + "\"]"));
        entries.emplace_back(x, tok);
        max_id = std::max(max_id, x);
    }
    struct Added {
        int64_t id;
        std::string content;
        bool special;
    };
    std::vector<Added> added;
    if (auto a = j.find("added_tokens"); a != j.end() && a->is_array()) {
        for (size_t k = 0; k < a->size(); ++k) {
            const json& e = (*a)[k];
            const std::string where = "added_tokens[" + std::to_string(k) + "]";
            if (!e.is_object() || !e.contains("id") || !e.contains("content") ||
                !e["content"].is_string())
                return bad(f, where + " needs an id and a content string");
            SUTRA_ASSIGN(int64_t x, check_id(e["id"], where));
            added.push_back({x, e["content"].get<std::string>(), e.value("special", false)});
            max_id = std::max(max_id, x);
        }
    }
    SUTRA_TRY(check_size(f, max_id + 1, ctx));
    const auto n = static_cast<size_t>(std::max(max_id + 1, ctx.vocab_size));
    HfTokens t;
    t.by_id.assign(n, "");
    t.present.assign(n, false);
    t.added.assign(n, false);
    t.special.assign(n, false);
    for (auto& [id, tok] : entries) {
        t.by_id[static_cast<size_t>(id)] = std::move(tok);
        t.present[static_cast<size_t>(id)] = true;
    }
    for (auto& a : added) {
        const auto i = static_cast<size_t>(a.id);
        t.by_id[i] = std::move(a.content);
        t.present[i] = true;
        t.added[i] = true;
        t.special[i] = a.special;
    }
    return t;
}

// bos/eos/unk/pad and add_bos/add_eos as gguf-py's SpecialVocab reads tokenizer.json and
// tokenizer_config.json.
void hf_specials(GgufVocab& v, const json& j, const SideFiles& side, const VocabContext& ctx) {
    const json* cfg = side.tokenizer_config ? &*side.tokenizer_config : nullptr;
    auto cfg_token = [&](const char* field) -> std::optional<std::string> {
        if (!cfg || !cfg->contains(field)) return std::nullopt;
        return token_text((*cfg)[field]);
    };
    std::optional<std::string> bos = cfg_token("bos_token"), eos = cfg_token("eos_token");
    if (auto pp = j.find("post_processor"); pp != j.end() && pp->is_object()) {
        std::vector<const json*> procs;
        if (pp->contains("processors") && (*pp)["processors"].is_array())
            for (const auto& p : (*pp)["processors"])
                procs.push_back(&p);
        else
            procs.push_back(&*pp);
        for (const json* p : procs) {
            if (!p->is_object()) continue;
            const std::string type = p->value("type", std::string());
            if (type == "RobertaProcessing") {
                v.add_bos = true;
                v.add_eos = true;
                continue;
            }
            if (type != "TemplateProcessing" || !p->contains("single") ||
                !(*p)["single"].is_array() || (*p)["single"].size() < 2)
                continue;
            const json& single = (*p)["single"];
            auto special_id = [](const json& e) -> std::optional<std::string> {
                if (!e.is_object() || !e.contains("SpecialToken")) return std::nullopt;
                const json& s = e["SpecialToken"];
                if (!s.is_object() || !s.contains("id") || !s["id"].is_string())
                    return std::nullopt;
                return s["id"].get<std::string>();
            };
            if (auto first = special_id(single.front())) {
                if (!cfg) bos = first;
                v.add_bos = bos && *first == *bos;
            }
            if (auto last = special_id(single.back())) {
                if (!cfg) eos = last;
                v.add_eos = eos && *last == *eos;
            }
        }
    }
    apply_config_flags(v, side);
    if (cfg) {
        auto id_of = [&](const std::optional<std::string>& text) -> int64_t {
            if (!text) return -1;
            auto a = j.find("added_tokens");
            if (a == j.end() || !a->is_array()) return -1;
            for (const auto& e : *a)
                if (e.is_object() && e.value("content", std::string()) == *text &&
                    e.contains("id") && e["id"].is_number_unsigned())
                    return e["id"].get<int64_t>();
            return -1;
        };
        v.bos = id_of(bos);
        v.eos = id_of(eos);
        v.unk = id_of(cfg_token("unk_token"));
        v.pad = id_of(cfg_token("pad_token"));
    }
    apply_config_ids(v, ctx);
}

Result<GgufVocab> from_tokenizer_json(const fs::path& f, const VocabContext& ctx) {
    SUTRA_ASSIGN(json j, io::read_strict_json_file(f.string(), {64, kMaxTokenizerBytes}));
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
        return bad(f, "no \"model\" object");
    const json& m = j["model"];
    const std::string model_type = m.value("type", std::string());
    if (model_type != "BPE")
        return make_error(Errc::unsupported,
                          f.string() + ": a " +
                              (model_type.empty() ? std::string("?") : model_type) +
                              " tokenizer; sutra writes GGUF vocabularies of BPE tokenizers "
                              "(byte-level or SentencePiece-style) only");
    const bool byte_fallback = m.value("byte_fallback", false);
    std::error_code ec;
    const fs::path spm = f.parent_path() / "tokenizer.model";
    if (byte_fallback && fs::is_regular_file(spm, ec)) {
        SUTRA_ASSIGN(GgufVocab v, from_sentencepiece(spm, ctx, &j));
        v.source =
            spm.filename().string() + " (SentencePiece, beside " + f.filename().string() + ")";
        return v;
    }
    SUTRA_ASSIGN(SideFiles side, read_side_files(f.parent_path()));
    SUTRA_ASSIGN(HfTokens t, hf_tokens(f, j, ctx));
    GgufVocab v;
    const size_t n = t.by_id.size();
    // Merges as "a b" strings (pairs joined; a space inside a part written U+0120).
    std::vector<std::string> merges;
    if (auto mit = m.find("merges"); mit != m.end() && mit->is_array()) {
        merges.reserve(mit->size());
        for (size_t k = 0; k < mit->size(); ++k) {
            const json& e = (*mit)[k];
            if (e.is_string()) {
                merges.push_back(e.get<std::string>());
            } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
                auto enc = [](std::string s) {
                    for (size_t p; (p = s.find(' ')) != std::string::npos;)
                        s.replace(p, 1, "\xc4\xa0");
                    return s;
                };
                merges.push_back(enc(e[0].get<std::string>()) + " " + enc(e[1].get<std::string>()));
            } else {
                return bad(f, "model.merges[" + std::to_string(k) +
                                  "] is neither \"a b\" nor [\"a\", \"b\"]");
            }
        }
    }
    if (!byte_fallback) {
        if (!has_byte_level(j))
            return make_error(Errc::unsupported,
                              f.string() +
                                  ": a BPE tokenizer that is neither byte-level nor "
                                  "byte_fallback (SentencePiece-style); llama.cpp has "
                                  "no matching tokenizer");
        SUTRA_ASSIGN(v.pre, pre_tokenizer_name(f, j));
        v.model = "gpt2";
        v.source = f.filename().string() + " (byte-level BPE)";
        for (size_t i = 0; i < n; ++i) {
            GgufTokenType type = GgufTokenType::normal;
            std::string tok = t.by_id[i];
            if (!t.present[i]) {
                tok = "[PAD" + std::to_string(i) + "]";
                type = GgufTokenType::unused;
            } else if (t.added[i]) {
                type = t.special[i] || looks_special(tok) ? GgufTokenType::control
                                                          : GgufTokenType::user_defined;
            }
            v.tokens.push_back(std::move(tok));
            v.types.push_back(static_cast<int32_t>(type));
        }
        v.merges = std::move(merges);
        hf_specials(v, j, side, ctx);
        return v;
    }
    // SentencePiece-style BPE without tokenizer.model.
    v.model = "llama";
    v.pre = "default";
    v.source = f.filename().string() + " (BPE with byte fallback)";
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < n; ++i)
        if (t.present[i] && !t.added[i]) index.emplace(t.by_id[i], i);
    std::vector<float> score(n, 0.0f);
    std::vector<bool> scored(n, false);
    for (size_t r = 0; r < merges.size(); ++r) {
        const std::string& s = merges[r];
        const size_t sp = s.find(' ', 1);
        if (sp == std::string::npos) continue;
        std::string joined = s.substr(0, sp) + s.substr(sp + 1);
        for (size_t p; (p = joined.find("\xc4\xa0")) != std::string::npos;)
            joined.replace(p, 2, " ");
        auto it = index.find(joined);
        if (it == index.end() || scored[it->second]) continue;
        scored[it->second] = true;
        score[it->second] = -static_cast<float>(r + 1);
    }
    std::string unk_token;
    if (auto u = m.find("unk_token"); u != m.end() && u->is_string())
        unk_token = u->get<std::string>();
    for (size_t i = 0; i < n; ++i) {
        GgufTokenType type = GgufTokenType::normal;
        std::string tok = t.by_id[i];
        float sc = score[i];
        if (!t.present[i]) {
            tok = "[PAD" + std::to_string(i) + "]";
            type = GgufTokenType::unused;
            sc = -1000.0f;
        } else if (!unk_token.empty() && tok == unk_token) {
            type = GgufTokenType::unknown;
        } else if (t.special[i]) {
            type = GgufTokenType::control;
        } else if (t.added[i]) {
            type = GgufTokenType::user_defined;
            sc = -1000.0f;
        } else if (is_byte_token(tok)) {
            type = GgufTokenType::byte;
        }
        v.tokens.push_back(std::move(tok));
        v.scores.push_back(sc);
        v.types.push_back(static_cast<int32_t>(type));
    }
    hf_specials(v, j, side, ctx);
    if (v.unk < 0 && !unk_token.empty()) {
        auto it = index.find(unk_token);
        if (it != index.end()) v.unk = static_cast<int64_t>(it->second);
    }
    return v;
}

}  // namespace

Result<GgufVocab> read_gguf_vocab(const tokenize::TokenizerFile& file, const VocabContext& ctx) {
    switch (file.kind) {
        case tokenize::TokenizerKind::llama2c:
            return from_llama2c(file.path, ctx);
        case tokenize::TokenizerKind::sentencepiece:
            return from_sentencepiece(file.path, ctx, nullptr);
        case tokenize::TokenizerKind::hf_json:
            return from_tokenizer_json(file.path, ctx);
        case tokenize::TokenizerKind::bytes:
            return make_error(Errc::unsupported,
                              "GGUF export of a byte-level tokenizer is not supported");
    }
    return make_error(Errc::internal, "unknown tokenizer kind");
}

void append_vocab_metadata(const GgufVocab& v, GgufMetadata& md) {
    md.emplace_back("tokenizer.ggml.model", GgufValue::make_string(v.model));
    md.emplace_back("tokenizer.ggml.pre", GgufValue::make_string(v.pre));
    md.emplace_back("tokenizer.ggml.tokens", GgufValue::make_string_array(v.tokens));
    if (!v.scores.empty())
        md.emplace_back("tokenizer.ggml.scores", GgufValue::make_f32_array(v.scores));
    md.emplace_back("tokenizer.ggml.token_type", GgufValue::make_i32_array(v.types));
    if (!v.merges.empty())
        md.emplace_back("tokenizer.ggml.merges", GgufValue::make_string_array(v.merges));
    auto id = [&](const char* key, int64_t x) {
        if (x >= 0) md.emplace_back(key, GgufValue::make_u32(static_cast<uint32_t>(x)));
    };
    id("tokenizer.ggml.bos_token_id", v.bos);
    id("tokenizer.ggml.eos_token_id", v.eos);
    id("tokenizer.ggml.unknown_token_id", v.unk);
    id("tokenizer.ggml.padding_token_id", v.pad);
    if (v.add_bos)
        md.emplace_back("tokenizer.ggml.add_bos_token", GgufValue::make_bool(*v.add_bos));
    if (v.add_eos)
        md.emplace_back("tokenizer.ggml.add_eos_token", GgufValue::make_bool(*v.add_eos));
    if (v.chat_template)
        md.emplace_back("tokenizer.chat_template", GgufValue::make_string(*v.chat_template));
}

}  // namespace sutra::format
