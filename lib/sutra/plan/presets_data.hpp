#pragma once
// The built-in presets: the text of configs/*.json, compiled in by CMake (presets_data.cpp is
// generated from those files), so the binary needs no data files at run time.
#include <span>
#include <string_view>

namespace sutra::plan {

struct PresetText {
    std::string_view name;
    std::string_view json;
};

std::span<const PresetText> builtin_presets();

}  // namespace sutra::plan
