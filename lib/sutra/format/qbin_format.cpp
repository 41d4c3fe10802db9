#include "sutra/format/qbin_format.hpp"

#include "sutra/base/checksum.hpp"
#include "sutra/plan/config.hpp"
#include "sutra/quant/quant_type.hpp"

namespace sutra::format {

std::vector<io::OutTensor> stored_tensors(const QbinRecord& r) {
    if (!r.quantized) {
        // Any dtype, sub-byte ones too, is stored unchanged; shapes were checked when read.
        const uint64_t n = dtype_nbytes(r.dtype, r.shape).value_or(0);
        return {io::OutTensor{r.stored.at(0), r.dtype, r.shape, n}};
    }
    const auto& l = r.layout;
    return {
        io::OutTensor{r.stored.at(0), DType::U8, {l.rows, l.row_code_bytes}, l.qweight_bytes()},
        io::OutTensor{r.stored.at(1), DType::F16, {l.rows, l.n_groups}, l.scales_bytes()},
        io::OutTensor{r.stored.at(2), DType::U8, {l.rows, l.row_zero_bytes}, l.qzeros_bytes()},
    };
}

std::string build_qbin_header(const std::vector<QbinRecord>& records,
                              const nlohmann::ordered_json& extra) {
    nlohmann::ordered_json prof;
    prof["format"] = kFormatName;
    prof["format_version"] = kFormatVersion;
    for (const auto& [k, v] : extra.items())
        prof[k] = v;
    auto& arr = prof["tensors"] = nlohmann::ordered_json::array();
    std::vector<io::OutTensor> all;
    for (const auto& r : records) {
        nlohmann::ordered_json t;
        t["name"] = r.name;
        t["dtype"] = dtype_name(r.dtype);
        t["shape"] = r.shape;
        t["role"] = r.role;
        if (r.transformed) t["transformed"] = true;
        if (r.quantized) {
            t["encoding"] = quant::quant_type_for_bits(r.bits)->name;
            t["bits"] = r.bits;
            if (r.group_size == 0)
                t["group_size"] = "row";
            else
                t["group_size"] = r.group_size;
            t["group_width"] = r.layout.group;
        } else {
            t["encoding"] = "raw";
        }
        auto& st = t["stored"] = nlohmann::ordered_json::array();
        for (size_t i = 0; i < r.stored.size(); ++i) {
            nlohmann::ordered_json s;
            s["name"] = r.stored[i];
            s["xxh3"] = hex64(i < r.xxh3.size() ? r.xxh3[i] : 0);
            st.push_back(std::move(s));
        }
        arr.push_back(std::move(t));
        for (auto& o : stored_tensors(r))
            all.push_back(std::move(o));
    }
    std::vector<std::pair<std::string, std::string>> meta = {
        {std::string(kProfileKey), prof.dump()},
        {std::string(kHeaderChecksumKey), std::string(16, '0')},
    };
    return io::build_safetensors_header(meta, all);
}

Result<uint64_t> header_checksum(std::string_view prefix8, std::string_view header,
                                 size_t* digits_at) {
    const size_t at = header.find(kHeaderChecksumNeedle);
    if (at == std::string_view::npos ||
        header.find(kHeaderChecksumNeedle, at + 1) != std::string_view::npos)
        return make_error(Errc::corrupt,
                          "the header checksum field \"sutra.header_xxh3\" is missing or repeated");
    const size_t digits = at + kHeaderChecksumNeedle.size();
    if (digits + 16 > header.size())
        return make_error(Errc::corrupt, "the header checksum field is cut short");
    Hasher h;
    h.update({reinterpret_cast<const uint8_t*>(prefix8.data()), prefix8.size()});
    h.update({reinterpret_cast<const uint8_t*>(header.data()), digits});
    static const char zeros[16] = {'0', '0', '0', '0', '0', '0', '0', '0',
                                   '0', '0', '0', '0', '0', '0', '0', '0'};
    h.update({reinterpret_cast<const uint8_t*>(zeros), 16});
    h.update({reinterpret_cast<const uint8_t*>(header.data()) + digits + 16,
              header.size() - digits - 16});
    if (digits_at) *digits_at = digits;
    return h.digest();
}

}  // namespace sutra::format
