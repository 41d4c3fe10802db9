#!/usr/bin/env bash
# Configures and builds sutra. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
# Default: build/ in Release. The binaries land in BUILD_DIR/bin. SUTRA_TARGETS="a b" builds
# only those targets (the example needs just `sutra` and `sutra-make-example`).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
else
  cmake -S . -B "$dir" "$@" >/dev/null
fi
targets=()
for t in ${SUTRA_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$dir" -j "$(nproc)" "${targets[@]}"
