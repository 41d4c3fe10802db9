# Every dependency comes from a Debian package (scripts/bootstrap.sh installs them) and is
# found with find_package; nothing is vendored. Versions known to work: CLI11 2.1,
# nlohmann_json 3.11, spdlog 1.10 with fmt 9, xsimd 8.1 (needs xtl first), Catch2 2.13,
# xxhash 0.8 (no CMake package: found with pkg-config), OpenBLAS 0.3, Oniguruma 6.9, ICU 72,
# SentencePiece 0.1.97 (pkg-config).
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(xtl REQUIRED)
find_package(xsimd REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# Tokenizers: Oniguruma (the regex engine of the Hugging Face tokenizers crate), ICU
# (Unicode normalization and case mapping), SentencePiece (tokenizer.model files).
pkg_check_modules(ONIG REQUIRED IMPORTED_TARGET oniguruma)
pkg_check_modules(ICU REQUIRED IMPORTED_TARGET icu-uc)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_path(CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas)
if(NOT CBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "cblas.h not found: run scripts/bootstrap.sh (libopenblas-dev)")
endif()
if(SUTRA_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
endif()
find_package(Threads REQUIRED)
