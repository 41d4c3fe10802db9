#pragma once
// Model paths as people have them on disk, resolved to what io::Checkpoint opens.
//
// The Hugging Face hub cache (~/.cache/huggingface/hub) keeps a model as
//     models--ORG--NAME/
//         refs/main                   text: the commit hash of the snapshot `main` points at
//         snapshots/<hash>/...        the files, as relative symbolic links into ../../blobs/
//         blobs/<sha256 or sha1>      the contents
// A snapshot folder is an ordinary model folder whose files are symbolic links, and opens as
// one (links to regular files are followed; a dangling link is an error naming it). The
// models--ORG--NAME folder itself (or its snapshots/ folder) resolves to the snapshot refs/main
// names. Paths are never canonicalized: the model folder stays the snapshot folder, where
// config.json and the tokenizer are links too, not blobs/.
#include <filesystem>

#include "sutra/base/error.hpp"

namespace sutra::io {

// `path` itself, unless it is a hub cache model folder (one holding snapshots/ and no
// checkpoint of its own) or that folder's snapshots/: then PATH/snapshots/<refs/main>.
// Errors: refs/main missing, empty or not a plain name, or naming a snapshot that is not
// there; each message lists the snapshots present.
Result<std::filesystem::path> resolve_model_path(const std::filesystem::path& path);

}  // namespace sutra::io
