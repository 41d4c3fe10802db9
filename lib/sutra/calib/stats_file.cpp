#include "sutra/calib/stats_file.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "sutra/io/checkpoint.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/io/safetensors_writer.hpp"
#include "sutra/io/strict_json.hpp"
#include "sutra/model/llama/llama_family.hpp"

namespace sutra::calib {
namespace fs = std::filesystem;

namespace {

constexpr const char* kStatSuffix[] = {"mean_abs", "mean_sq", "max_abs"};
constexpr const char* kBlockLinears[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                         "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                         "mlp.down_proj"};

// Sort key putting linears in order: for Llama's "model.layers.{N}.{linear}", layers by number
// and the block's linears in kBlockLinears order (forward order); for another family's
// "{prefix}.{N}.{linear}" (the first all-digit part of the name is the layer), layers by number
// and a layer's linears by name; then lm_head, then anything else by name.
std::tuple<int64_t, int, std::string, std::string> order_key(const std::string& key) {
    const std::string prefix = "model.layers.";
    if (key.rfind(prefix, 0) == 0) {
        int64_t layer = 0;
        const char* b = key.data() + prefix.size();
        const char* e = key.data() + key.size();
        auto [p, ec] = std::from_chars(b, e, layer);
        if (ec == std::errc() && p != b && p < e && *p == '.') {
            const std::string rest(p + 1, e);
            for (int i = 0; i < 7; ++i)
                if (rest == kBlockLinears[i]) return {layer, i, "", ""};
            return {layer, 7, rest, ""};
        }
    }
    if (key == "lm_head") return {INT64_MAX, 0, "", ""};
    // "{prefix}.{digits}.{rest}"
    for (size_t start = 0; start < key.size();) {
        size_t end = key.find('.', start);
        if (end == std::string::npos) break;
        if (end > start && start > 0 && end - start <= 18 &&
            std::all_of(key.begin() + static_cast<std::ptrdiff_t>(start),
                        key.begin() + static_cast<std::ptrdiff_t>(end),
                        [](char c) { return c >= '0' && c <= '9'; })) {
            int64_t layer = 0;
            std::from_chars(key.data() + start, key.data() + end, layer);
            return {layer, 7, key.substr(end + 1), key.substr(0, start)};
        }
        start = end + 1;
    }
    return {INT64_MAX, 1, key, ""};
}

std::string model_json(const ModelFingerprint& f) {
    nlohmann::ordered_json j;
    if (f.family != "llama") {
        j["family"] = f.family;
        j["variant"] = f.variant;
        j["hidden_size"] = f.hidden_size;
        j["num_layers"] = f.num_hidden_layers;
        j["vocab_size"] = f.vocab_size;
        j["linears"] = f.linears;
        j["linear_weights"] = f.linear_weights;
        return j.dump();
    }
    j["model_type"] = f.model_type;
    j["hidden_size"] = f.hidden_size;
    j["intermediate_size"] = f.intermediate_size;
    j["num_hidden_layers"] = f.num_hidden_layers;
    j["num_attention_heads"] = f.num_attention_heads;
    j["num_key_value_heads"] = f.num_key_value_heads;
    j["head_dim"] = f.head_dim;
    j["vocab_size"] = f.vocab_size;
    return j.dump();
}

std::span<const uint8_t> as_bytes(const void* p, size_t n) {
    return {static_cast<const uint8_t*>(p), n};
}

Status check_consistent(const CalibrationData& d) {
    if (d.seq_len < 2 || d.windows < 1 ||
        d.tokens.size() != static_cast<size_t>(d.windows * d.seq_len))
        return make_error(Errc::invalid_argument,
                          "calibration data: " + std::to_string(d.tokens.size()) +
                              " tokens do not form " + std::to_string(d.windows) +
                              " windows of seq_len " + std::to_string(d.seq_len));
    if (d.linears.empty())
        return make_error(Errc::invalid_argument, "calibration data: no linear statistics");
    for (const auto& [name, s] : d.linears) {
        if (name.empty() || name == kTokensTensor)
            return make_error(Errc::invalid_argument,
                              "calibration data: invalid linear name '" + name + "'");
        if (s.mean_abs.empty() || s.mean_sq.size() != s.mean_abs.size() ||
            s.max_abs.size() != s.mean_abs.size() || s.tokens == 0)
            return make_error(Errc::invalid_argument,
                              "calibration data: statistics of '" + name +
                                  "' are empty or have vectors of different lengths");
    }
    return {};
}

Result<int64_t> parse_int(const std::string& s, const std::string& what) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty())
        return make_error(Errc::bad_format, what + " is \"" + s + "\", not an integer");
    return v;
}

std::string shape_str(const std::vector<uint64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i)
        out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

}  // namespace

Status save_calibration(const CalibrationData& data, const fs::path& path, bool force,
                        const std::vector<fs::path>& inputs) {
    SUTRA_TRY(check_consistent(data));
    std::vector<const std::pair<const std::string, ChannelStats>*> order;
    for (const auto& e : data.linears)
        order.push_back(&e);
    std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
        return order_key(a->first) < order_key(b->first);
    });

    const std::vector<std::pair<std::string, std::string>> meta = {
        {"format", std::string(kFormatName)},
        {"format_version", std::to_string(kFormatVersion)},
        {"tool_version", SUTRA_VERSION},
        {"model", model_json(data.model)},
        {"seq_len", std::to_string(data.seq_len)},
        {"windows", std::to_string(data.windows)},
        {"bos_token_id", std::to_string(data.bos_id)},
    };
    std::vector<io::OutTensor> tensors;
    tensors.push_back({std::string(kTokensTensor),
                       DType::I32,
                       {static_cast<uint64_t>(data.windows), static_cast<uint64_t>(data.seq_len)},
                       data.tokens.size() * sizeof(int32_t)});
    for (const auto* e : order) {
        const uint64_t n = e->second.mean_abs.size();
        for (const char* s : kStatSuffix)
            tensors.push_back({e->first + "." + s, DType::F32, {n}, n * sizeof(float)});
        tensors.push_back({e->first + ".tokens", DType::I64, {}, sizeof(int64_t)});
    }
    const std::string header = io::build_safetensors_header(meta, tensors);
    const std::string prefix = io::header_length_prefix(header.size());

    SUTRA_ASSIGN(io::OutputFile out, io::OutputFile::create(path, force, inputs));
    uint64_t pos = 0;
    auto put = [&](const void* p, size_t n) -> Status {
        SUTRA_TRY(out.write_at(pos, as_bytes(p, n)));
        pos += n;
        return {};
    };
    SUTRA_TRY(put(prefix.data(), prefix.size()));
    SUTRA_TRY(put(header.data(), header.size()));
    SUTRA_TRY(put(data.tokens.data(), data.tokens.size() * sizeof(int32_t)));
    for (const auto* e : order) {
        const ChannelStats& s = e->second;
        for (const auto* v : {&s.mean_abs, &s.mean_sq, &s.max_abs})
            SUTRA_TRY(put(v->data(), v->size() * sizeof(float)));
        const auto t = static_cast<int64_t>(s.tokens);
        SUTRA_TRY(put(&t, sizeof t));
    }
    return out.commit();
}

namespace {

// What a calibration file must agree with: the model's shape, the linears whose statistics it
// holds, its vocabulary, and whether its windows start with a BOS.
struct Expected {
    ModelFingerprint model;
    std::vector<LinearInput> inputs;
    int64_t vocab_size = 0;
    bool bos = true;
};

// Reads the fingerprint of the file `p` (its "model" object `m`) into `got` and checks it
// against the model's: bad_format for a missing or mistyped field, invalid_argument naming
// both (for two Llama shapes: the first field that differs) when they differ.
Status check_model(const nlohmann::json& m, const std::string& p, const ModelFingerprint& want,
                   ModelFingerprint& got) {
    const std::string rerun =
        "; these statistics were collected on another model: run "
        "`sutra calibrate` on this model";
    auto get_int = [&](const char* key, int64_t& dst) -> Status {
        if (!m.contains(key) || !m[key].is_number_integer())
            return make_error(Errc::bad_format,
                              p + ": __metadata__ \"model\" has no integer \"" + key + "\"");
        dst = m[key].get<int64_t>();
        return {};
    };
    auto get_string = [&](const char* key, std::string& dst) -> Status {
        if (!m.contains(key) || !m[key].is_string())
            return make_error(Errc::bad_format, p + ": __metadata__ \"model\" has no " + key);
        dst = m[key].get<std::string>();
        return {};
    };
    auto other_model = [&]() {
        return make_error(Errc::invalid_argument, p + ": made for " + got.describe() +
                                                      ", this model is " + want.describe() + rerun);
    };
    if (m.contains("family")) {  // a family other than Llama
        SUTRA_TRY(get_string("family", got.family));
        if (got.family == "llama")
            return make_error(Errc::bad_format,
                              p + ": __metadata__ \"model\" names the family \"llama\", whose "
                                  "files record model_type and its config instead");
        SUTRA_TRY(get_string("variant", got.variant));
        SUTRA_TRY(get_int("hidden_size", got.hidden_size));
        SUTRA_TRY(get_int("num_layers", got.num_hidden_layers));
        SUTRA_TRY(get_int("vocab_size", got.vocab_size));
        SUTRA_TRY(get_int("linears", got.linears));
        SUTRA_TRY(get_int("linear_weights", got.linear_weights));
        if (got != want) return other_model();
        return {};
    }
    if (want.family != "llama") {  // a Llama file for a model of another family
        SUTRA_TRY(get_string("model_type", got.model_type));
        const std::pair<const char*, int64_t ModelFingerprint::*> fields[] = {
            {"hidden_size", &ModelFingerprint::hidden_size},
            {"intermediate_size", &ModelFingerprint::intermediate_size},
            {"num_hidden_layers", &ModelFingerprint::num_hidden_layers},
            {"num_attention_heads", &ModelFingerprint::num_attention_heads},
            {"num_key_value_heads", &ModelFingerprint::num_key_value_heads},
            {"head_dim", &ModelFingerprint::head_dim},
            {"vocab_size", &ModelFingerprint::vocab_size}};
        for (const auto& [key, field] : fields)
            SUTRA_TRY(get_int(key, got.*field));
        return other_model();
    }
    if (!m.contains("model_type") || !m["model_type"].is_string())
        return make_error(Errc::bad_format, p + ": __metadata__ \"model\" has no model_type");
    got.model_type = m["model_type"].get<std::string>();
    if (got.model_type != want.model_type)
        return make_error(Errc::invalid_argument, p + ": made for model_type \"" + got.model_type +
                                                      "\", this model is \"" + want.model_type +
                                                      "\"" + rerun);
    const struct {
        const char* key;
        int64_t ModelFingerprint::*field;
    } fields[] = {{"hidden_size", &ModelFingerprint::hidden_size},
                  {"intermediate_size", &ModelFingerprint::intermediate_size},
                  {"num_hidden_layers", &ModelFingerprint::num_hidden_layers},
                  {"num_attention_heads", &ModelFingerprint::num_attention_heads},
                  {"num_key_value_heads", &ModelFingerprint::num_key_value_heads},
                  {"head_dim", &ModelFingerprint::head_dim},
                  {"vocab_size", &ModelFingerprint::vocab_size}};
    for (const auto& f : fields) {
        if (!m.contains(f.key) || !m[f.key].is_number_integer())
            return make_error(Errc::bad_format,
                              p + ": __metadata__ \"model\" has no integer \"" + f.key + "\"");
        got.*f.field = m[f.key].get<int64_t>();
        if (got.*f.field != want.*f.field)
            return make_error(Errc::invalid_argument, p + ": made for a model with " + f.key + " " +
                                                          std::to_string(got.*f.field) +
                                                          ", this model has " +
                                                          std::to_string(want.*f.field) + rerun);
    }
    return {};
}

Result<CalibrationData> load(const fs::path& path, const Expected& expected) {
    const std::string p = path.string();
    std::error_code ec;
    if (fs::is_directory(path, ec))
        return make_error(Errc::invalid_argument,
                          p + ": is a folder; pass the calibration file written by "
                              "`sutra calibrate ... -o FILE`");
    SUTRA_ASSIGN(io::Checkpoint ck, io::Checkpoint::open(path));

    // __metadata__.
    auto meta = [&](const std::string& key) -> const std::string* {
        for (const auto& [k, v] : ck.metadata())
            if (k == key) return &v;
        return nullptr;
    };
    const std::string* format = meta("format");
    if (!format || *format != kFormatName)
        return make_error(Errc::bad_format,
                          p +
                              ": not a sutra calibration file (its __metadata__ has no \"format\": "
                              "\"sutra.calib\"); make one with `sutra calibrate MODEL --text FILE "
                              "-o " +
                              p + "`");
    auto meta_int = [&](const std::string& key) -> Result<int64_t> {
        const std::string* v = meta(key);
        if (!v)
            return make_error(Errc::bad_format,
                              p + ": __metadata__ has no \"" + key + "\" (damaged file?)");
        return parse_int(*v, p + ": __metadata__ \"" + key + "\"");
    };
    SUTRA_ASSIGN(int64_t version, meta_int("format_version"));
    if (version != kFormatVersion)
        return make_error(Errc::unsupported,
                          p + ": calibration format version " + std::to_string(version) +
                              " is not supported (this sutra reads version " +
                              std::to_string(kFormatVersion) + "); run `sutra calibrate` again");

    CalibrationData d;
    const std::string* mj = meta("model");
    if (!mj) return make_error(Errc::bad_format, p + ": __metadata__ has no \"model\"");
    SUTRA_ASSIGN(nlohmann::json m,
                 io::parse_strict_json(*mj, p + ": __metadata__ \"model\"", {4, 1 << 16}));
    if (!m.is_object())
        return make_error(Errc::bad_format, p + ": __metadata__ \"model\" is not a JSON object");
    SUTRA_TRY(check_model(m, p, expected.model, d.model));
    SUTRA_ASSIGN(d.seq_len, meta_int("seq_len"));
    SUTRA_ASSIGN(d.windows, meta_int("windows"));
    SUTRA_ASSIGN(int64_t bos, meta_int("bos_token_id"));
    constexpr int64_t kMaxTokens = int64_t{1} << 34;
    if (d.seq_len < 2 || d.windows < 1 || d.seq_len > kMaxTokens || d.windows > kMaxTokens ||
        d.seq_len * d.windows > kMaxTokens)
        return make_error(Errc::bad_format, p + ": seq_len " + std::to_string(d.seq_len) +
                                                " and windows " + std::to_string(d.windows) +
                                                " are out of range");
    if (!expected.bos && bos != -1)
        return make_error(Errc::bad_format,
                          p + ": bos_token_id " + std::to_string(bos) + ", but the windows of a " +
                              expected.model.family +
                              " model start with no such token (bos_token_id -1)");
    if (expected.bos && (bos < 0 || bos >= expected.vocab_size))
        return make_error(Errc::bad_format, p + ": bos_token_id " + std::to_string(bos) +
                                                " is outside the vocabulary");
    d.bos_id = static_cast<int32_t>(bos);

    // Which tensors must be there, and their shapes.
    std::set<std::string> seen;
    auto find = [&](const std::string& name, DType dtype,
                    const std::vector<uint64_t>& shape) -> Result<const io::TensorRef*> {
        const io::TensorRef* t = ck.find(name);
        if (!t)
            return make_error(Errc::bad_format, p + ": tensor '" + name +
                                                    "' is missing (damaged or truncated file?)");
        if (t->dtype != dtype || t->shape != shape)
            return make_error(Errc::bad_format, p + ": tensor '" + name + "' is " +
                                                    std::string(dtype_name(t->dtype)) + " " +
                                                    shape_str(t->shape) + ", expected " +
                                                    std::string(dtype_name(dtype)) + " " +
                                                    shape_str(shape));
        seen.insert(name);
        return t;
    };

    // The windows.
    SUTRA_ASSIGN(const io::TensorRef* tok,
                 find(std::string(kTokensTensor), DType::I32,
                      {static_cast<uint64_t>(d.windows), static_cast<uint64_t>(d.seq_len)}));
    d.tokens.resize(static_cast<size_t>(d.windows * d.seq_len));
    SUTRA_TRY(ck.read_raw(*tok, 0,
                          std::span<uint8_t>(reinterpret_cast<uint8_t*>(d.tokens.data()),
                                             d.tokens.size() * sizeof(int32_t))));
    for (size_t i = 0; i < d.tokens.size(); ++i) {
        const int32_t id = d.tokens[i];
        const auto w = static_cast<int64_t>(i) / d.seq_len;
        const auto pos = static_cast<int64_t>(i) % d.seq_len;
        if (id < 0 || id >= expected.vocab_size)
            return make_error(Errc::bad_format, p + ": calib.tokens window " + std::to_string(w) +
                                                    " position " + std::to_string(pos) +
                                                    " has id " + std::to_string(id) +
                                                    ", outside the model's vocabulary of " +
                                                    std::to_string(expected.vocab_size));
        if (pos == 0 && d.bos_id >= 0 && id != d.bos_id)
            return make_error(Errc::bad_format, p + ": calib.tokens window " + std::to_string(w) +
                                                    " does not start with bos_token_id " +
                                                    std::to_string(d.bos_id));
    }

    // Another family's checkpoint layouts name the same linears differently (rwkv.cpp's
    // "blocks.0.att.key", Hugging Face's "rwkv.blocks.0.attention.key"), under one fingerprint.
    if (expected.model.family != "llama") {
        const std::string suffix = ".mean_abs";
        std::set<std::string> keys;
        for (const LinearInput& in : expected.inputs)
            keys.insert(in.key);
        for (const auto& t : ck.tensors()) {
            const std::string& n = t.name;
            if (n.size() <= suffix.size() ||
                n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0 ||
                keys.count(n.substr(0, n.size() - suffix.size())))
                continue;
            for (const LinearInput& in : expected.inputs)
                if (!ck.find(in.key + suffix))
                    return make_error(Errc::invalid_argument,
                                      p + ": holds statistics of '" +
                                          n.substr(0, n.size() - suffix.size()) +
                                          "' and none of this model's '" + in.key +
                                          "': made for a checkpoint that names its tensors "
                                          "otherwise; run `sutra calibrate` on this model");
            break;
        }
    }

    // The statistics of every linear of the model.
    const uint64_t count = static_cast<uint64_t>(d.windows * d.seq_len);
    for (const LinearInput& in : expected.inputs) {
        ChannelStats s;
        const std::vector<uint64_t> shape = {static_cast<uint64_t>(in.in_features)};
        std::vector<float>* dst[] = {&s.mean_abs, &s.mean_sq, &s.max_abs};
        for (int k = 0; k < 3; ++k) {
            const std::string name = in.key + "." + kStatSuffix[k];
            SUTRA_ASSIGN(const io::TensorRef* t, find(name, DType::F32, shape));
            dst[k]->resize(shape[0]);
            SUTRA_TRY(ck.read_f32(*t, 0, *dst[k]));
            for (size_t c = 0; c < dst[k]->size(); ++c) {
                const float v = (*dst[k])[c];
                if (!std::isfinite(v) || v < 0.0f)
                    return make_error(Errc::bad_format,
                                      p + ": tensor '" + name + "' channel " + std::to_string(c) +
                                          " is " + std::to_string(v) +
                                          "; statistics must be finite and not negative");
            }
        }
        const std::string tname = in.key + ".tokens";
        SUTRA_ASSIGN(const io::TensorRef* tt, find(tname, DType::I64, {}));
        int64_t n = 0;
        SUTRA_TRY(ck.read_raw(*tt, 0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&n), 8)));
        if (n < 0 || static_cast<uint64_t>(n) != count)
            return make_error(Errc::bad_format,
                              p + ": tensor '" + tname + "' counts " + std::to_string(n) +
                                  " tokens, but the file's windows hold " + std::to_string(count));
        s.tokens = count;
        // mean|x| <= max|x|, mean|x|^2 <= mean x^2 <= max|x|^2, up to f32 rounding.
        for (size_t c = 0; c < s.mean_abs.size(); ++c) {
            const auto ma = static_cast<double>(s.mean_abs[c]);
            const auto ms = static_cast<double>(s.mean_sq[c]);
            const auto mx = static_cast<double>(s.max_abs[c]);
            constexpr double kRel = 1e-4, kAbs = 1e-37;
            if (ma > mx * (1 + kRel) + kAbs || ma * ma > ms * (1 + kRel) + kAbs ||
                ms > mx * mx * (1 + kRel) + kAbs)
                return make_error(Errc::bad_format,
                                  p + ": statistics of '" + in.key + "' channel " +
                                      std::to_string(c) + " are inconsistent (mean |x| " +
                                      std::to_string(ma) + ", mean x^2 " + std::to_string(ms) +
                                      ", max |x| " + std::to_string(mx) + "); damaged file?");
        }
        d.linears.emplace(in.key, std::move(s));
    }
    for (const auto& t : ck.tensors())
        if (!seen.count(t.name))
            return make_error(Errc::bad_format,
                              p + ": tensor '" + t.name +
                                  "' does not belong in a calibration file for this model");
    return d;
}

}  // namespace

Result<CalibrationData> load_calibration(const fs::path& path, const model::LlamaConfig& expected) {
    return load(
        path, {ModelFingerprint::of(expected), linear_inputs(expected), expected.vocab_size, true});
}

Result<CalibrationData> load_calibration(const fs::path& path, model::Model& expected) {
    if (const model::Llama* l = model::llama::as_llama(expected))
        return load_calibration(path, l->config());
    const model::ModelInfo& info = expected.info();
    return load(path, {ModelFingerprint::of(expected), linear_inputs(expected), info.vocab_size,
                       info.bos_id >= 0});
}

}  // namespace sutra::calib
