#include "sutra/tokenize/byte_level.hpp"

#include <array>

#include "sutra/tokenize/unicode.hpp"

namespace sutra::tokenize {

namespace {

bool is_printable_byte(int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
    std::array<char32_t, 256> to_unicode{};
    std::array<std::string, 256> to_utf8{};
    std::array<int16_t, 0x144> to_byte{};  // every character of the table is below U+0144

    Tables() {
        to_byte.fill(-1);
        char32_t next = 0x100;
        for (int b = 0; b < 256; ++b) {
            const char32_t cp = is_printable_byte(b) ? static_cast<char32_t>(b) : next++;
            to_unicode[b] = cp;
            append_utf8(to_utf8[b], cp);
            to_byte[cp] = static_cast<int16_t>(b);
        }
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

}  // namespace

char32_t byte_to_unicode(uint8_t b) {
    return tables().to_unicode[b];
}

int unicode_to_byte(char32_t cp) {
    const auto& t = tables();
    return cp < t.to_byte.size() ? t.to_byte[cp] : -1;
}

std::string byte_level_encode(std::string_view bytes) {
    const auto& t = tables();
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes)
        out += t.to_utf8[static_cast<unsigned char>(c)];
    return out;
}

}  // namespace sutra::tokenize
