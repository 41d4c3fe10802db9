// Catch2 main. Tests tagged [shared] need the fixtures in ../shared (models, text); when that
// folder is absent, a run asking for [shared] exits with 77, which CTest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <string>

#include "sutra/model/blas.hpp"

int main(int argc, char** argv) {
    sutra::model::select_blas_kernels(argv);
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "[shared]" &&
            !std::filesystem::exists(SUTRA_SHARED_DIR "/models")) {
            std::printf("skipped: fixtures folder %s not found\n", SUTRA_SHARED_DIR);
            return 77;
        }
    }
    return Catch::Session().run(argc, argv);
}
