#include "sutra/plan/method.hpp"

#include <algorithm>

#include "sutra/base/suggest.hpp"

namespace sutra::plan {

const std::vector<std::string>& method_names() {
    static const std::vector<std::string> names = {"auto", "rtn", "awq", "gptq", "awq+gptq"};
    return names;
}

Error unknown_choice_error(std::string_view flag, std::string_view what, std::string_view name,
                           const std::vector<std::string>& choices) {
    std::string msg = std::string(flag) + (flag.empty() ? "" : ": ") + "unknown " +
                      std::string(what) + " \"" + std::string(name) + "\"";
    const std::string hint = did_you_mean(name, choices);
    if (!hint.empty()) msg += "; " + hint;
    return make_error(Errc::invalid_argument, msg + " (choices: " + join_names(choices) + ")");
}

Result<std::string> parse_method(std::string_view name, std::string_view flag) {
    const auto& names = method_names();
    if (std::find(names.begin(), names.end(), name) != names.end()) return std::string(name);
    return unknown_choice_error(flag, "method", name, names);
}

}  // namespace sutra::plan
