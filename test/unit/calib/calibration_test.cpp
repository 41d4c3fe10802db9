#include "sutra/calib/calibration.hpp"

#include <catch2/catch.hpp>
#include <numeric>
#include <vector>

#include "support/st_builder.hpp"
#include "unit/model/model_test_support.hpp"

using namespace sutra;
namespace fx = sutra::test::model;

namespace {

std::vector<int32_t> iota_tokens(size_t n, int32_t first = 10) {
    std::vector<int32_t> v(n);
    std::iota(v.begin(), v.end(), first);
    return v;
}

}  // namespace

TEST_CASE("calib: windows are BOS + seq_len - 1 text tokens, full windows only", "[calib]") {
    const auto text = iota_tokens(10);
    auto w = calib::cut_windows(text, 4, 0, 1);
    SUTRA_REQUIRE_OK(w);
    CHECK(w->seq_len == 4);
    CHECK(w->count == 3);  // 3 chunks of 3; the 10th token is left out
    CHECK(w->tokens == std::vector<int32_t>{1, 10, 11, 12, 1, 13, 14, 15, 1, 16, 17, 18});

    // A token limit counts text tokens and keeps whole windows.
    auto limited = calib::cut_windows(text, 4, 7, 1);
    SUTRA_REQUIRE_OK(limited);
    CHECK(limited->count == 2);
    CHECK(limited->tokens == std::vector<int32_t>{1, 10, 11, 12, 1, 13, 14, 15});

    // Exactly one window.
    auto one = calib::cut_windows(text, 11, 0, 5);
    SUTRA_REQUIRE_OK(one);
    CHECK(one->count == 1);
    CHECK(one->tokens.front() == 5);
    CHECK(one->tokens.size() == 11);
}

TEST_CASE("calib: window errors name the counts and the fix", "[calib]") {
    const auto text = iota_tokens(10);
    SUTRA_REQUIRE_ERROR(calib::cut_windows(text, 1, 0, 1), Errc::invalid_argument, "seq-len");
    SUTRA_REQUIRE_ERROR(calib::cut_windows(text, 4, -1, 1), Errc::invalid_argument, "negative");
    SUTRA_REQUIRE_ERROR(calib::cut_windows(text, 12, 0, 1), Errc::invalid_argument,
                        "10 text tokens", "one window of 11", "--seq-len");
    SUTRA_REQUIRE_ERROR(calib::cut_windows(text, 4, 2, 1), Errc::invalid_argument, "token limit",
                        "--tokens");
    SUTRA_REQUIRE_ERROR(calib::cut_windows({}, 4, 0, 1), Errc::invalid_argument, "0 text tokens");
}

TEST_CASE("calib: windows_of views the token matrix row by row", "[calib]") {
    calib::CalibrationData d;
    d.seq_len = 3;
    d.windows = 2;
    d.tokens = {1, 5, 6, 1, 7, 8};
    const auto v = calib::windows_of(d);
    REQUIRE(v.size() == 2);
    CHECK(std::vector<int32_t>(v[1].begin(), v[1].end()) == std::vector<int32_t>{1, 7, 8});
    d.tokens.pop_back();  // inconsistent: no views
    CHECK(calib::windows_of(d).empty());
}

TEST_CASE("calib: every linear of the model, in forward order, with its input width", "[calib]") {
    const auto cfg = fx::tiny_config();  // hidden 16, 4 heads of 4, MLP 24, 2 layers
    const auto v = calib::linear_inputs(cfg);
    REQUIRE(v.size() == 2 * 7 + 1);
    CHECK(v[0].key == "model.layers.0.self_attn.q_proj");
    CHECK(v[0].layer == 0);
    CHECK(v[0].linear == "self_attn.q_proj");
    CHECK(v[0].in_features == 16);
    CHECK(v[3].key == "model.layers.0.self_attn.o_proj");
    CHECK(v[3].in_features == cfg.q_width());
    CHECK(v[6].key == "model.layers.0.mlp.down_proj");
    CHECK(v[6].in_features == 24);
    CHECK(v[13].key == "model.layers.1.mlp.down_proj");
    CHECK(v[14].key == "lm_head");
    CHECK(v[14].layer == -1);
    CHECK(v[14].in_features == 16);
    CHECK(calib::linear_key(-1, "lm_head") == "lm_head");
    CHECK(calib::linear_key(3, "mlp.up_proj") == "model.layers.3.mlp.up_proj");
}
