#!/usr/bin/env bash
# The real llama.cpp client for sutra's GGUF interop test and table: installs the npm packages
# node-llama-cpp@3.22.1 and its CPU prebuilt @node-llama-cpp/linux-x64@3.22.1 (llama.cpp
# v0.5.0: libllama, libllama-common, libggml and its per-ISA CPU backends) into a cache folder
# and prints that folder on stdout (the one line callers read). Idempotent: an install that
# already holds both packages at these versions is reused without touching the network.
#
# With --tools, it also builds two native programs against that prebuilt, with the system
# C++ compiler (no cmake, no build of llama.cpp itself), and prints their folder instead:
#   llamacpp_quantize  test/interop/llamacpp_quantize.cpp: llama_model_quantize (llama.cpp's
#                      own Q4_0 / Q4_1 / Q4_K_M / Q8_0 ..., optionally with an imatrix)
#   llama-imatrix      llama.cpp's tools/imatrix/imatrix.cpp, unchanged, from the source that
#                      node-llama-cpp ships as a git bundle (llama/gitRelease.bundle)
# The headers come from the same bundle (checked out once into TOOLS_DIR/llama.cpp). The
# folder also gets links to the prebuilt's libggml-cpu-*.so: ggml looks for its CPU backend
# next to the executable. Programs are rebuilt only when their source is newer.
#
# Usage: scripts/llamacpp_env.sh [--tools] [DIR]
#   DIR (or SUTRA_LLAMACPP_NPM_DIR): the npm folder, default ${TMPDIR:-/tmp}/sutra-npm-llama.
#   SUTRA_LLAMACPP_TOOLS_DIR: the tools folder, default ${TMPDIR:-/tmp}/sutra-llama-build.
# Exit status: 0 ready (path printed), 77 node/npm/git/c++ missing or the registry
# unreachable (message on stderr), 2 usage error, 1 a build failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=0
if [ "${1:-}" = "--tools" ]; then
  tools=1
  shift
fi
if [ $# -gt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  echo "usage: $0 [--tools] [DIR]" >&2
  exit 2
fi
dir=${1:-${SUTRA_LLAMACPP_NPM_DIR:-${TMPDIR:-/tmp}/sutra-npm-llama}}
version=3.22.1
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "llamacpp_env: node or npm is not installed, so node-llama-cpp@$version cannot be installed" >&2
  exit 77
fi

installed() {
  local p
  for p in node-llama-cpp @node-llama-cpp/linux-x64; do
    [ -f "$dir/node_modules/$p/package.json" ] || return 1
    node -e 'const p=require(process.argv[1]); if (p.version!==process.argv[2]) process.exit(1)' \
      "$dir/node_modules/$p/package.json" "$version" 2>/dev/null || return 1
  done
}

if ! installed; then
  echo "llamacpp_env: installing node-llama-cpp@$version with npm into $dir" >&2
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] ||
    echo '{"name":"sutra-npm-llama","private":true,"type":"module"}' >"$dir/package.json"
  # --ignore-scripts: node-llama-cpp's postinstall would try to download or build llama.cpp;
  # only the prebuilt binary package is used (getLlama({gpu: false, build: "never"})).
  if ! (cd "$dir" && npm install --no-audit --no-fund --loglevel=error --ignore-scripts \
    --fetch-timeout=60000 --fetch-retries=1 \
    "node-llama-cpp@$version" "@node-llama-cpp/linux-x64@$version" >&2) || ! installed; then
    echo "llamacpp_env: npm could not install node-llama-cpp@$version into $dir (no network or registry?)" >&2
    exit 77
  fi
fi
if [ "$tools" = 0 ]; then
  echo "$dir"
  exit 0
fi

bins=$dir/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
bundle=$dir/node_modules/node-llama-cpp/llama/gitRelease.bundle
out=${SUTRA_LLAMACPP_TOOLS_DIR:-${TMPDIR:-/tmp}/sutra-llama-build}
for need in git c++; do
  if ! command -v "$need" >/dev/null 2>&1; then
    echo "llamacpp_env: $need is not installed, so the llama.cpp tools cannot be built" >&2
    exit 77
  fi
done
if [ ! -f "$bins/libllama.v0.5.0.so" ] || [ ! -f "$bundle" ]; then
  echo "llamacpp_env: $bins/libllama.v0.5.0.so or $bundle is missing (a different package layout?)" >&2
  exit 77
fi
mkdir -p "$out"
src=$out/llama.cpp
if [ ! -f "$src/include/llama.h" ]; then
  echo "llamacpp_env: checking out the llama.cpp source bundled with node-llama-cpp into $src" >&2
  rm -rf "$src.tmp"
  git -c advice.detachedHead=false clone --quiet "$bundle" "$src.tmp" >&2
  mv "$src.tmp" "$src"
fi
for f in "$bins"/libggml-cpu-*.so; do
  ln -sf "$f" "$out/"
done

build() {  # output source
  local exe=$out/$1 source=$2
  if [ -x "$exe" ] && [ "$exe" -nt "$source" ]; then
    return 0
  fi
  echo "llamacpp_env: building $exe" >&2
  if ! c++ -std=c++17 -O2 -o "$exe.tmp" "$source" -I"$src/common" -I"$src/include" \
    -I"$src/ggml/include" -I"$src/vendor" -L"$bins" -l:libllama-common.so -l:libllama.v0.5.0.so \
    -l:libggml.v0.5.0.so -l:libggml-base.so -Wl,-rpath,"$bins" -pthread >&2; then
    rm -f "$exe.tmp"
    echo "llamacpp_env: could not build $exe from $source" >&2
    exit 1
  fi
  mv "$exe.tmp" "$exe"
}
build llamacpp_quantize "$here/../test/interop/llamacpp_quantize.cpp"
build llama-imatrix "$src/tools/imatrix/imatrix.cpp"
echo "$out"
