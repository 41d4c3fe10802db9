#pragma once
// Rendering of an export result, shared by `sutra export` and `sutra quantize --format`.
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "sutra/pipeline/export.hpp"

namespace sutra::app {

// The "sutra.export/1" JSON document.
nlohmann::ordered_json export_json(const pipeline::ExportReport& r);
// Warnings on stderr (one line each); the summary line on stdout, and with -v the tensors.
void print_export(const pipeline::ExportReport& r, const GlobalOptions& g, bool json);

}  // namespace sutra::app
