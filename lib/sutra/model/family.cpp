#include "sutra/model/family.hpp"

namespace sutra::model {

Matrix* BlockTensors::find(std::string_view name) {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
}
const Matrix* BlockTensors::find(std::string_view name) const {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
}

namespace {
Error no_block_view(const Model& m) {
    return make_error(Errc::unsupported, "the " + m.info().family +
                                             " family does not give sutra's quantization "
                                             "methods a view of its blocks yet");
}
}  // namespace

Result<BlockTensors> Model::load_block(int) {
    return no_block_view(*this);
}
std::string Model::keep_reason(std::string_view) const {
    return {};
}
std::string Model::block_tensor(int, std::string_view) const {
    return {};
}
std::vector<BlockLinear> Model::block_linears(int) const {
    return {};
}
std::vector<ScaleGroup> Model::scale_groups(int) const {
    return {};
}
Status Model::run_block_with(const BlockTensors&, std::span<Activations>) const {
    return no_block_view(*this);
}
Status Model::run_module(const BlockTensors&, std::string_view, const Activations&,
                         std::vector<float>&) const {
    return no_block_view(*this);
}

Status Model::head_each(std::span<const Activations> xs, const LogitsSink& each) {
    std::vector<float> logits;
    for (size_t i = 0; i < xs.size(); ++i) {
        SUTRA_TRY(head(xs[i], logits));
        SUTRA_TRY(each(i, logits));
    }
    return {};
}

Status Model::observe_head(std::span<const Activations> xs) {
    return head_each(xs, [](size_t, std::span<const float>) { return Status{}; });
}

Result<std::vector<float>> forward(Model& model, std::span<const int32_t> tokens,
                                   SequenceState* state) {
    Activations x;
    SUTRA_TRY(model.embed(tokens, state ? state->position() : 0, x));
    const auto layers = static_cast<int>(model.info().num_layers);
    for (int l = 0; l < layers; ++l) {
        if (state) {
            SUTRA_TRY(model.run_block(l, x, *state));
        } else {
            SUTRA_TRY(model.run_block(l, std::span<Activations>(&x, 1)));
        }
    }
    std::vector<float> logits;
    SUTRA_TRY(model.head(x, logits));
    return logits;
}

}  // namespace sutra::model
