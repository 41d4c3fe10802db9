#pragma once
// The built-in example checkpoint (pipeline/example_checkpoint.hpp) written for CLI tests.
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>

#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"

namespace sutra::test {

// The tiny example (F16) in dir/model; `layers` decoder blocks (0: the shape's own, 2).
inline std::filesystem::path write_tiny_example(const TempDir& dir, uint64_t layers = 0) {
    auto shape = pipeline::example_shape("tiny");
    REQUIRE(shape.ok());
    pipeline::ExampleOptions eo;
    eo.shape = *shape;
    if (layers) eo.shape.layers = layers;
    eo.dtype = DType::F16;
    const std::filesystem::path model = dir / "model";
    SUTRA_REQUIRE_OK(pipeline::write_example_checkpoint(model, eo));
    return model;
}

}  // namespace sutra::test
