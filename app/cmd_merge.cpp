// sutra merge OUT.qbin.part-1-of-N ... -o OUT.qbin [--force] [--json]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "sutra/parts/merge.hpp"

namespace sutra::app {

Runner add_merge(CLI::App& app, const GlobalOptions&) {
    struct Args {
        std::vector<std::string> parts;
        std::string output;
        bool force = false, json = false;
    };
    auto a = std::make_shared<Args>();
    app.add_option("parts", a->parts, "The part files of one `quantize --part K/N` run")
        ->required();
    app.add_option("-o,--output", a->output, "Output .qbin file")->required();
    app.add_flag("--force", a->force, "Overwrite the output if it exists");
    app.add_flag("--json", a->json, "Print the result as JSON on stdout");
    return [a]() -> int {
        parts::MergeOptions opt;
        opt.parts.assign(a->parts.begin(), a->parts.end());
        opt.output = a->output;
        opt.force = a->force;
        auto r = parts::merge_parts(opt);
        if (!r) return fail(r.error());
        if (a->json) {
            nlohmann::ordered_json j;
            j["schema"] = "sutra.merge/1";
            j["output"] = r->output;
            j["parts"] = r->parts;
            j["tensors"] = r->records;
            j["output_bytes"] = r->output_bytes;
            j["run"] = r->run;
            j["seconds"] = r->seconds;
            std::printf("%s\n", j.dump(2).c_str());
        } else {
            std::printf("wrote %s from %zu parts: %zu tensors, %s, %s s\n", r->output.c_str(),
                        r->parts, r->records, human_bytes(r->output_bytes).c_str(),
                        fixed(r->seconds, 3).c_str());
        }
        return kExitOk;
    };
}

}  // namespace sutra::app
