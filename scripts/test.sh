#!/usr/bin/env bash
# Sets up a fresh Debian machine, then builds and runs every test twice: a Release build with
# warnings as errors, and an ASan + UBSan build (without the [slow] full-text evaluations,
# which the Release run covers; -g1: line tables only, enough for sanitizer stack traces and
# about a fifth faster to compile than -g; the CLI and test code unoptimised: see
# CMakeLists.txt). Both compile the library as a unity build, to build from scratch in less
# time. Also checks formatting. Tests that need the fixtures in ../shared are reported skipped
# when that folder is absent. The test programs run two at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
phase() { echo "== $1 (at $((SECONDS - start)) s)"; }

bash scripts/bootstrap.sh

phase "format check (.clang-format)"
files=$(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find app lib test -name '*.cpp' -o -name '*.hpp')
clang-format --dry-run -Werror $files

phase "release build"
bash scripts/build.sh build -DSUTRA_WERROR=ON -DSUTRA_UNITY_BUILD=ON
phase "release tests"
(cd build && ctest --output-on-failure -j 2)

phase "ASan + UBSan build"
bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DSUTRA_SANITIZE=ON -DSUTRA_SKIP_SLOW_TESTS=ON -DSUTRA_UNITY_BUILD=ON
phase "ASan + UBSan tests"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j 2)
phase "done"
