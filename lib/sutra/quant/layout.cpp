#include "sutra/quant/layout.hpp"

#include <cstring>

namespace sutra::quant {

QuantLayout make_layout(uint64_t rows, uint64_t cols, int bits, uint32_t group_size) {
    QuantLayout l;
    l.rows = rows;
    l.cols = cols;
    l.bits = bits;
    l.group = (group_size == 0 || group_size >= cols) ? cols : group_size;
    l.n_groups = cols == 0 ? 0 : (cols + l.group - 1) / l.group;
    l.row_code_bytes = packed_bytes(cols, bits);
    l.row_zero_bytes = packed_bytes(l.n_groups, bits);
    return l;
}

void pack_codes(const uint8_t* codes, size_t n, int bits, uint8_t* out) {
    const size_t nbytes = static_cast<size_t>(packed_bytes(n, bits));
    if (bits == 8) {
        std::memcpy(out, codes, n);
        return;
    }
    std::memset(out, 0, nbytes);
    if (bits == 4) {
        for (size_t k = 0; k < n; ++k)
            out[k >> 1] |= static_cast<uint8_t>(codes[k] << ((k & 1) * 4));
        return;
    }
    const uint32_t mask = (1u << bits) - 1u;
    for (size_t k = 0; k < n; ++k) {
        const size_t bit = k * static_cast<size_t>(bits);
        const uint32_t v = (codes[k] & mask) << (bit & 7);
        out[bit >> 3] |= static_cast<uint8_t>(v & 0xffu);
        if ((bit & 7) + static_cast<size_t>(bits) > 8)
            out[(bit >> 3) + 1] |= static_cast<uint8_t>(v >> 8);
    }
}

void unpack_codes(const uint8_t* in, size_t n, int bits, uint8_t* codes) {
    if (bits == 8) {
        std::memcpy(codes, in, n);
        return;
    }
    if (bits == 4) {
        for (size_t k = 0; k < n; ++k)
            codes[k] = static_cast<uint8_t>((in[k >> 1] >> ((k & 1) * 4)) & 0xfu);
        return;
    }
    const uint32_t mask = (1u << bits) - 1u;
    for (size_t k = 0; k < n; ++k) {
        const size_t bit = k * static_cast<size_t>(bits);
        uint32_t v = in[bit >> 3];
        if ((bit & 7) + static_cast<size_t>(bits) > 8)
            v |= static_cast<uint32_t>(in[(bit >> 3) + 1]) << 8;
        codes[k] = static_cast<uint8_t>((v >> (bit & 7)) & mask);
    }
}

}  // namespace sutra::quant
