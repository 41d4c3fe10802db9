// The whole tokenizer.json pipeline against the golden ids and decoded texts of the reference
// (the Hugging Face `tokenizers` crate 0.23.2, shared/tokenizers/*/golden, README there): both
// texts in both modes, and every short case of text/cases.json.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "sutra/tokenize/hf_tokenizer.hpp"

namespace {

namespace fs = std::filesystem;
using sutra::tokenize::HfTokenizer;
using sutra::tokenize::load_hf_tokenizer;

fs::path tokenizers_dir() {
    return fs::path(SUTRA_SHARED_DIR) / "tokenizers";
}

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<int32_t> read_ids(const fs::path& p) {
    std::vector<int32_t> ids;
    std::istringstream in(read_bytes(p));
    long long v = 0;
    while (in >> v)
        ids.push_back(static_cast<int32_t>(v));
    return ids;
}

std::string show_ids(const std::vector<int32_t>& ids, std::size_t from, std::size_t to) {
    std::string s = "[";
    for (std::size_t i = from; i < std::min(to, ids.size()); ++i)
        s += (i > from ? ", " : "") + std::to_string(ids[i]);
    if (to < ids.size()) s += ", ...";
    return s + "]";
}

std::string show_tokens(const HfTokenizer& t, const std::vector<int32_t>& ids, std::size_t from,
                        std::size_t to) {
    to = std::min(to, ids.size());
    if (from >= to) return "[]";
    const auto toks = t.id_tokens(std::span<const int32_t>(ids).subspan(from, to - from));
    std::string s = "[";
    for (std::size_t i = 0; i < toks.size(); ++i)
        s += (i ? ", \"" : "\"") + toks[i] + "\"";
    return s + "]";
}

// Empty when equal, else where and how the ids differ.
std::string difference(const HfTokenizer& t, const std::vector<int32_t>& want,
                       const std::vector<int32_t>& got) {
    if (want == got) return {};
    std::size_t i = 0;
    while (i < want.size() && i < got.size() && want[i] == got[i])
        ++i;
    const std::size_t from = i > 3 ? i - 3 : 0;
    std::ostringstream os;
    os << "first difference at index " << i << " (expected " << want.size() << " ids, got "
       << got.size() << ")\n  expected " << show_ids(want, from, i + 8) << " "
       << show_tokens(t, want, from, i + 8) << "\n  actual   " << show_ids(got, from, i + 8) << " "
       << show_tokens(t, got, from, i + 8);
    return os.str();
}

std::string escaped(const std::string& s) {
    return nlohmann::json(s).dump();
}

struct Counts {
    int cases = 0;
    int failed = 0;
};

void check_tokenizer(const std::string& name) {
    const fs::path dir = tokenizers_dir() / name;
    auto loaded = load_hf_tokenizer(dir / "tokenizer.json");
    INFO(name);
    if (!loaded.ok()) FAIL(loaded.error().message);
    const HfTokenizer& tok = **loaded;
    const fs::path golden = dir / "golden";

    // The two texts, both modes.
    for (const std::string text_name : {"tinystories_eval_20k", "stress"}) {
        const std::string text = read_bytes(tokenizers_dir() / "text" / (text_name + ".txt"));
        const bool have_json = fs::exists(golden / (text_name + ".json"));
        nlohmann::json gj;
        if (have_json) gj = nlohmann::json::parse(read_bytes(golden / (text_name + ".json")));
        for (const bool special : {true, false}) {
            const std::string mode = special ? "special" : "nospecial";
            INFO(text_name << " " << mode);
            const auto want = read_ids(golden / (text_name + "." + mode + ".ids"));
            const auto got = tok.encode(text, special);
            const std::string diff = difference(tok, want, got);
            INFO(diff);
            CHECK(diff.empty());
            const fs::path decoded_file = golden / (text_name + "." + mode + ".decoded.txt");
            if (fs::exists(decoded_file)) {
                const std::string want_text = read_bytes(decoded_file);
                CHECK(tok.decode(want, false) == want_text);
            }
            if (have_json) {
                const auto& g = gj[mode];
                CHECK(tok.decode(want, false) == g["decoded"].get<std::string>());
                CHECK(tok.decode(want, true) == g["decoded_skip_special"].get<std::string>());
            }
        }
    }

    // The short cases.
    const auto texts = nlohmann::json::parse(read_bytes(tokenizers_dir() / "text" / "cases.json"));
    const fs::path cases_file = golden / "cases.json";
    if (!fs::exists(cases_file)) return;
    const auto cases = nlohmann::json::parse(read_bytes(cases_file));
    REQUIRE(cases.size() == texts.size());
    Counts n;
    for (std::size_t k = 0; k < cases.size(); ++k) {
        const auto& c = cases[k];
        const std::string text = c["text"].get<std::string>();
        REQUIRE(text == texts[k].get<std::string>());
        INFO("case " << k << ": " << escaped(text));
        ++n.cases;
        bool ok = true;
        for (const bool special : {true, false}) {
            const auto want =
                c[special ? "ids_special" : "ids_nospecial"].get<std::vector<int32_t>>();
            const auto got = tok.encode(text, special);
            const std::string diff = difference(tok, want, got);
            INFO((special ? "add_special" : "no special"));
            INFO(diff);
            CHECK(diff.empty());
            ok = ok && diff.empty();
        }
        const auto ids_nospecial = c["ids_nospecial"].get<std::vector<int32_t>>();
        const auto ids_special = c["ids_special"].get<std::vector<int32_t>>();
        const std::string dec = tok.decode(ids_nospecial, false);
        CHECK(escaped(dec) == escaped(c["decoded_nospecial"].get<std::string>()));
        const std::string skip = tok.decode(ids_special, true);
        CHECK(escaped(skip) == escaped(c["decoded_special_skip"].get<std::string>()));
        ok = ok && dec == c["decoded_nospecial"].get<std::string>() &&
             skip == c["decoded_special_skip"].get<std::string>();
        if (!ok) ++n.failed;
    }
    INFO(n.failed << " of " << n.cases << " cases differ");
    CHECK(n.failed == 0);
}

}  // namespace

TEST_CASE("tokenizer.json golden: gpt2", "[tokenize][shared]") {
    check_tokenizer("gpt2");
}
TEST_CASE("tokenizer.json golden: qwen3", "[tokenize][shared]") {
    check_tokenizer("qwen3");
}
TEST_CASE("tokenizer.json golden: gpt-neox-20b", "[tokenize][shared]") {
    check_tokenizer("gpt-neox-20b");
}
TEST_CASE("tokenizer.json golden: mistral-7b-v0.1", "[tokenize][shared]") {
    check_tokenizer("mistral-7b-v0.1");
}
TEST_CASE("tokenizer.json golden: mistral-7b-v0.1-legacy", "[tokenize][shared]") {
    check_tokenizer("mistral-7b-v0.1-legacy");
}
TEST_CASE("tokenizer.json golden: flan-t5-large", "[tokenize][shared]") {
    check_tokenizer("flan-t5-large");
}

TEST_CASE("tokenizer.json golden: describe and sizes", "[tokenize][shared]") {
    struct Want {
        const char* name;
        const char* kind;
        int64_t vocab;
        std::vector<int32_t> leading;
    };
    const std::vector<Want> wants = {
        {"gpt2", "BPE", 50257, {}},
        {"qwen3", "BPE", 151669, {}},
        {"gpt-neox-20b", "BPE", 50277, {}},
        {"mistral-7b-v0.1", "BPE", 32000, {1}},
        {"mistral-7b-v0.1-legacy", "BPE", 32000, {1}},
        {"flan-t5-large", "Unigram", 32100, {}},
    };
    for (const auto& w : wants) {
        INFO(w.name);
        auto t = load_hf_tokenizer(tokenizers_dir() / w.name / "tokenizer.json");
        REQUIRE(t.ok());
        CHECK((*t)->vocab_size() == w.vocab);
        CHECK((*t)->leading_special_ids() == w.leading);
        CHECK((*t)->describe() == std::string("tokenizer.json (") + w.kind + ", " +
                                      std::to_string(w.vocab) + " tokens)");
    }
}
