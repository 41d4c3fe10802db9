#include "sutra/tokenize/precompiled.hpp"

#include "sutra/tokenize/unicode.hpp"

namespace sutra::tokenize {

namespace {

uint32_t read_u32_le(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

bool unit_has_leaf(uint32_t unit) {
    return ((unit >> 8) & 1) == 1;
}
uint32_t unit_value(uint32_t unit) {
    return unit & 0x7FFFFFFFu;
}
uint32_t unit_label(uint32_t unit) {
    return unit & (0x80000000u | 0xFFu);
}
std::size_t unit_offset(uint32_t unit) {
    return static_cast<std::size_t>(unit >> 10) << ((unit & (1u << 9)) >> 6);
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

}  // namespace

Result<PrecompiledCharsMap> PrecompiledCharsMap::parse(std::span<const uint8_t> blob,
                                                       const std::string& what) {
    if (blob.size() < 4)
        return make_error(Errc::bad_format, what + ": precompiled_charsmap has " +
                                                std::to_string(blob.size()) +
                                                " bytes, fewer than its 4-byte header");
    const uint32_t trie_bytes = read_u32_le(blob.data());
    if (trie_bytes % 4 != 0 || trie_bytes == 0 || trie_bytes > blob.size() - 4)
        return make_error(Errc::bad_format,
                          what + ": precompiled_charsmap declares a trie of " +
                              std::to_string(trie_bytes) + " bytes in a blob of " +
                              std::to_string(blob.size()) +
                              " (it must be a non-zero multiple of 4 that fits after the header)");
    PrecompiledCharsMap map;
    map.units_.resize(trie_bytes / 4);
    for (std::size_t k = 0; k < map.units_.size(); ++k)
        map.units_[k] = read_u32_le(blob.data() + 4 + 4 * k);
    const auto* pool = reinterpret_cast<const char*>(blob.data() + 4 + trie_bytes);
    map.pool_.assign(pool, blob.size() - 4 - trie_bytes);
    if (!is_valid_utf8(map.pool_))
        return make_error(Errc::bad_format,
                          what + ": the replacement strings of precompiled_charsmap are not UTF-8");
    return map;
}

std::optional<std::string_view> PrecompiledCharsMap::transform(std::string_view key) const {
    if (units_.empty()) return std::nullopt;
    std::size_t node = unit_offset(units_[0]);
    for (char ch : key) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == 0) break;
        node ^= c;
        if (node >= units_.size()) return std::nullopt;
        const uint32_t unit = units_[node];
        if (unit_label(unit) != c) return std::nullopt;
        node ^= unit_offset(unit);
        if (unit_has_leaf(unit)) {
            if (node >= units_.size()) return std::nullopt;
            const std::size_t start = unit_value(units_[node]);
            if (start > pool_.size()) return std::nullopt;
            // A replacement must start on a character boundary of the (valid UTF-8) pool.
            if (start < pool_.size() && (static_cast<unsigned char>(pool_[start]) & 0xC0) == 0x80)
                return std::nullopt;
            const std::string_view rest = std::string_view(pool_).substr(start);
            return rest.substr(0, rest.find('\0'));
        }
    }
    return std::nullopt;
}

std::string PrecompiledCharsMap::normalize(std::string_view text) const {
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    const std::vector<std::size_t> bounds = grapheme_boundaries(text);
    for (std::size_t g = 0; g + 1 < bounds.size(); ++g) {
        const std::string_view grapheme = text.substr(bounds[g], bounds[g + 1] - bounds[g]);
        if (grapheme.size() < 6) {
            if (auto rule = transform(grapheme)) {
                out += *rule;
                continue;
            }
        }
        std::size_t i = 0;
        while (i < grapheme.size()) {
            const std::size_t start = i;
            next_code_point(grapheme, i);
            const std::string_view cp = grapheme.substr(start, i - start);
            if (auto rule = transform(cp))
                out += *rule;
            else
                out += cp;
        }
    }
    return out;
}

Result<std::vector<uint8_t>> decode_base64(std::string_view text, const std::string& what) {
    std::size_t len = text.size();
    std::size_t pad = 0;
    while (len > 0 && pad < 2 && text[len - 1] == '=')
        --len, ++pad;
    if (len % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0))
        return make_error(Errc::bad_format, what + ": not valid base64 (truncated, " +
                                                std::to_string(text.size()) + " characters)");
    std::vector<uint8_t> out;
    out.reserve(len / 4 * 3 + 2);
    uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < len; ++i) {
        const int v = base64_value(text[i]);
        if (v < 0)
            return make_error(Errc::bad_format, what + ": not valid base64 (character " +
                                                    std::to_string(i) + " is not in the alphabet)");
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<uint8_t>((acc >> bits) & 0xFF));
        }
    }
    return out;
}

}  // namespace sutra::tokenize
