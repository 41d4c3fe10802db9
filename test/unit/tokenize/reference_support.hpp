#pragma once
// Reads test/unit/tokenize/reference/reference.json: the outputs of the Hugging Face
// `tokenizers` crate (0.23.2) for normalizers and pre-tokenizers, made by make_reference.js.
// A component is written inline or names a real tokenizer of shared/tokenizers.
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace sutra::test::tokenize {

inline nlohmann::json read_json_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return nlohmann::json::parse(ss.str());
}

inline const nlohmann::json& reference() {
    static const nlohmann::json j = read_json_file(std::filesystem::path(SUTRA_SOURCE_DIR) /
                                                   "test/unit/tokenize/reference/reference.json");
    return j;
}

inline std::filesystem::path shared_tokenizers() {
    return std::filesystem::path(SUTRA_SHARED_DIR) / "tokenizers";
}

inline bool is_shared(const nlohmann::json& component) {
    return component.is_object() && component.contains("shared");
}

// The component JSON: inline, or read from the shared tokenizer.json it names.
inline nlohmann::json resolve_component(const nlohmann::json& component) {
    if (!is_shared(component)) return component;
    // Each shared tokenizer.json is read once.
    static std::map<std::string, nlohmann::json> files;
    const std::string name = component["shared"].get<std::string>();
    auto it = files.find(name);
    if (it == files.end())
        it = files.emplace(name, read_json_file(shared_tokenizers() / name / "tokenizer.json"))
                 .first;
    const nlohmann::json& file = it->second;
    nlohmann::json v = file[component["field"].get<std::string>()];
    if (component.contains("index"))
        v = nlohmann::json(v["normalizers"][component["index"].get<std::size_t>()]);
    return v;
}

inline bool case_uses_shared(const nlohmann::json& c) {
    return (c.contains("normalizer") && is_shared(c["normalizer"])) ||
           (c.contains("pre_tokenizer") && is_shared(c["pre_tokenizer"]));
}

}  // namespace sutra::test::tokenize

#include <catch2/catch.hpp>
#include <vector>

#include "sutra/tokenize/pipeline.hpp"

namespace sutra::test::tokenize {

inline std::string show(const std::vector<std::string>& v) {
    std::string s = "[";
    for (std::size_t k = 0; k < v.size(); ++k)
        s += (k ? ", \"" : "\"") + v[k] + "\"";
    return s + "]";
}

// Compares sutra with every reference case that reads shared files (or not, per
// `shared`) and that has a pre-tokenizer (or only a normalizer, per `pre_tokenizers`).
// Returns the number of cases run.
inline int run_reference_cases(bool shared, bool pre_tokenizers) {
    namespace tk = sutra::tokenize;
    const nlohmann::json& ref = reference();
    const auto& texts = ref["texts"];
    int run = 0;
    for (const auto& c : ref["cases"]) {
        if (case_uses_shared(c) != shared || c.contains("pre_tokenizer") != pre_tokenizers)
            continue;
        const std::string name = c["name"].get<std::string>();
        INFO("reference case \"" << name << "\"");
        ++run;
        std::unique_ptr<tk::Normalizer> normalizer;
        std::unique_ptr<tk::PreTokenizer> pre_tokenizer;
        bool built = true;
        std::string build_error;
        if (c.contains("normalizer")) {
            auto n = tk::make_normalizer(resolve_component(c["normalizer"]), "normalizer");
            if (n.ok())
                normalizer = std::move(n).value();
            else
                built = false, build_error = n.error().message;
        }
        if (built && c.contains("pre_tokenizer")) {
            auto p = tk::make_pre_tokenizer(resolve_component(c["pre_tokenizer"]), "pre_tokenizer");
            if (p.ok())
                pre_tokenizer = std::move(p).value();
            else
                built = false, build_error = p.error().message;
        }
        if (c.contains("error")) {
            INFO("the reference refuses it: " << c["error"].get<std::string>());
            CHECK_FALSE(built);
            continue;
        }
        INFO(build_error);
        REQUIRE(built);
        const std::size_t first = c.value("first_text", std::size_t{0});
        const auto& outputs = c["outputs"];
        int mismatches = 0;
        std::string first_mismatch;
        for (std::size_t k = 0; k < outputs.size(); ++k) {
            const std::string text = texts[first + k].get<std::string>();
            const auto& want = outputs[k];
            std::string normalized = text;
            if (normalizer) normalizer->normalize(normalized);
            const std::string want_normalized = want.value("normalized", text);
            bool ok = normalized == want_normalized;
            std::vector<std::string> got_pieces, want_pieces;
            if (pre_tokenizer) {
                std::vector<tk::Piece> pieces{tk::Piece{normalized, -1, true}};
                pre_tokenizer->pre_tokenize(pieces);
                for (const auto& p : pieces)
                    got_pieces.push_back(p.text);
                want_pieces = want["pieces"].get<std::vector<std::string>>();
                ok = ok && got_pieces == want_pieces;
            }
            if (!ok && mismatches++ == 0)
                first_mismatch = "text " + std::to_string(first + k) + " \"" + text +
                                 "\": normalized \"" + normalized + "\" (want \"" +
                                 want_normalized + "\"), pieces " + show(got_pieces) + " (want " +
                                 show(want_pieces) + ")";
        }
        INFO(first_mismatch);
        CHECK(mismatches == 0);
    }
    return run;
}

}  // namespace sutra::test::tokenize
