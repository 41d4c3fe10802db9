// sutra tokenize MODEL|TOKENIZER_FILE (--text FILE | --decode IDS_FILE) [--no-special] [--json]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "sutra/pipeline/tokenize.hpp"

namespace sutra::app {

Runner add_tokenize(CLI::App& app, const GlobalOptions&) {
    struct Args {
        std::string source, text, decode;
        bool no_special = false, json = false;
    };
    auto a = std::make_shared<Args>();
    app.add_option("source", a->source,
                   "Model folder (or a checkpoint in it), or a tokenizer file: tokenizer.json, "
                   "tokenizer.model, tok512.bin")
        ->required();
    app.add_option("--text", a->text, "Encode this text file (- for standard input)");
    app.add_option("--decode", a->decode, "Decode this file of whitespace-separated token ids");
    app.add_flag("--no-special", a->no_special,
                 "Encode without special tokens (no BOS); decode without the text of special "
                 "tokens");
    app.add_flag("--json", a->json, "Print the result as JSON on stdout");
    return [a]() -> int {
        pipeline::TokenizeOptions opt;
        opt.source = a->source;
        if (!a->text.empty()) opt.text = a->text;
        if (!a->decode.empty()) opt.decode = a->decode;
        opt.special = !a->no_special;
        auto r = pipeline::run_tokenize(opt);
        if (!r) return fail(r.error());
        if (a->json) {
            nlohmann::ordered_json j;
            j["schema"] = "sutra.tokenize/1";
            j["tokenizer"] = r->tokenizer;
            j["file"] = r->file;
            j["special"] = opt.special;
            j["count"] = r->ids.size();
            j["ids"] = r->ids;
            if (opt.decode) j["text"] = r->text;
            // Invalid UTF-8 in decoded text (a byte token alone) is replaced, not an exception.
            std::printf("%s\n",
                        j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        } else if (opt.decode) {
            std::fwrite(r->text.data(), 1, r->text.size(), stdout);
        } else {
            std::string out;
            out.reserve(r->ids.size() * 7);
            for (int32_t id : r->ids) {
                out += std::to_string(id);
                out += '\n';
            }
            std::fwrite(out.data(), 1, out.size(), stdout);
        }
        return kExitOk;
    };
}

}  // namespace sutra::app
