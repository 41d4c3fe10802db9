#pragma once
// The quantization methods a user can ask for by name (`sutra quantize --method`,
// `sutra bench --methods`), and their parsing with a "did you mean" for typos.
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::plan {

// "auto" (AWQ with calibration data, else data-free or round-to-nearest), "rtn", "awq",
// "gptq", "awq+gptq".
const std::vector<std::string>& method_names();

// The name itself if it is a method; else an error naming the choices and the likely one.
// `flag` starts the message ("--method").
Result<std::string> parse_method(std::string_view name, std::string_view flag = "--method");

// An error for an unknown name among `choices`: `FLAG: unknown WHAT "x"; did you mean "y"?
// (choices: a, b, c)`.
Error unknown_choice_error(std::string_view flag, std::string_view what, std::string_view name,
                           const std::vector<std::string>& choices);

}  // namespace sutra::plan
