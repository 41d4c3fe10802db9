#include "sutra/tokenize/unicode.hpp"

#include <unicode/brkiter.h>
#include <unicode/bytestream.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utext.h>
#include <unicode/utf16.h>

#include <memory>

namespace sutra::tokenize {

namespace {

constexpr char32_t kReplacement = 0xFFFD;

bool is_continuation(unsigned char b) {
    return (b & 0xC0) == 0x80;
}

// Length of the well-formed sequence at `i`, or 0 when it is ill-formed; `subpart` receives
// the length of the maximal subpart to skip in that case (>= 1).
std::size_t well_formed_length(std::string_view s, std::size_t i, std::size_t& subpart) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    subpart = 1;
    if (b0 < 0x80) return 1;
    std::size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
    } else if (b0 == 0xE0) {
        need = 3, lo = 0xA0;
    } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
        need = 3;
    } else if (b0 == 0xED) {
        need = 3, hi = 0x9F;
    } else if (b0 == 0xF0) {
        need = 4, lo = 0x90;
    } else if (b0 >= 0xF1 && b0 <= 0xF3) {
        need = 4;
    } else if (b0 == 0xF4) {
        need = 4, hi = 0x8F;
    } else {
        return 0;
    }
    for (std::size_t k = 1; k < need; ++k) {
        if (i + k >= s.size()) {
            subpart = k;
            return 0;
        }
        const auto b = static_cast<unsigned char>(s[i + k]);
        const bool ok = k == 1 ? (b >= lo && b <= hi) : is_continuation(b);
        if (!ok) {
            subpart = k;
            return 0;
        }
    }
    return need;
}

char32_t decode_well_formed(std::string_view s, std::size_t i, std::size_t n) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (n == 1) return b0;
    char32_t cp = b0 & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (std::size_t k = 1; k < n; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    return cp;
}

uint32_t gc_mask(char32_t cp) {
    return U_GET_GC_MASK(static_cast<UChar32>(cp));
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0, subpart = 0;
    while (i < text.size()) {
        if (static_cast<unsigned char>(text[i]) < 0x80) {
            ++i;
            continue;
        }
        const std::size_t n = well_formed_length(text, i, subpart);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string to_valid_utf8(std::string_view text) {
    if (is_valid_utf8(text)) return std::string(text);
    std::string out;
    out.reserve(text.size() + 16);
    std::size_t i = 0, subpart = 0;
    while (i < text.size()) {
        const std::size_t n = well_formed_length(text, i, subpart);
        if (n == 0) {
            append_utf8(out, kReplacement);
            i += subpart;
        } else {
            out.append(text.substr(i, n));
            i += n;
        }
    }
    return out;
}

char32_t next_code_point(std::string_view text, std::size_t& i) {
    std::size_t subpart = 0;
    const std::size_t n = well_formed_length(text, i, subpart);
    if (n == 0) {
        i += subpart;
        return kReplacement;
    }
    const char32_t cp = decode_well_formed(text, i, n);
    i += n;
    return cp;
}

std::size_t utf8_sequence_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 1;
}

void append_utf8(std::string& out, char32_t cp) {
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = kReplacement;
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::size_t count_code_points(std::string_view text) {
    std::size_t n = 0;
    for (char c : text)
        if (!is_continuation(static_cast<unsigned char>(c))) ++n;
    return n;
}

std::string normalize_unicode(std::string_view text, NormalForm form) {
    const std::string valid = to_valid_utf8(text);
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* norm = nullptr;
    switch (form) {
        case NormalForm::nfc:
            norm = icu::Normalizer2::getNFCInstance(status);
            break;
        case NormalForm::nfd:
            norm = icu::Normalizer2::getNFDInstance(status);
            break;
        case NormalForm::nfkc:
            norm = icu::Normalizer2::getNFKCInstance(status);
            break;
        case NormalForm::nfkd:
            norm = icu::Normalizer2::getNFKDInstance(status);
            break;
    }
    // ICU's data is built in; failing to get an instance means ICU itself is broken, and
    // the text is then left as it is.
    if (U_FAILURE(status) || norm == nullptr) return valid;
    const icu::StringPiece piece(valid.data(), static_cast<int32_t>(valid.size()));
    if (norm->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return valid;
    status = U_ZERO_ERROR;
    std::string out;
    out.reserve(valid.size() + valid.size() / 4);
    icu::StringByteSink<std::string> sink(&out);
    norm->normalizeUTF8(0, piece, sink, nullptr, status);
    if (U_FAILURE(status)) return valid;
    return out;
}

std::string to_lower(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto b = static_cast<unsigned char>(text[i]);
        if (b < 0x80) {
            out.push_back(static_cast<char>(b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b));
            ++i;
            continue;
        }
        const char32_t cp = next_code_point(text, i);
        UChar src[2];
        int32_t src_len = 0;
        U16_APPEND_UNSAFE(src, src_len, static_cast<UChar32>(cp));
        UChar dst[8];
        UErrorCode status = U_ZERO_ERROR;
        // A single code point: no context, so only the unconditional mappings apply.
        const int32_t n = u_strToLower(dst, 8, src, src_len, "", &status);
        if (U_FAILURE(status) || n <= 0 || n > 8) {
            append_utf8(out, cp);
            continue;
        }
        for (int32_t k = 0; k < n;) {
            UChar32 c;
            U16_NEXT(dst, k, n, c);
            append_utf8(out, static_cast<char32_t>(c));
        }
    }
    return out;
}

std::vector<std::size_t> grapheme_boundaries(std::string_view text) {
    std::vector<std::size_t> out{0};
    if (text.empty()) return out;
    // Creating a break iterator loads its rules; one per thread is kept and reused.
    thread_local std::unique_ptr<icu::BreakIterator> iter;
    UErrorCode status = U_ZERO_ERROR;
    if (!iter) {
        iter.reset(icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), status));
        if (U_FAILURE(status)) iter.reset();
    }
    auto per_code_point = [&] {
        out.clear();
        std::size_t i = 0;
        out.push_back(0);
        while (i < text.size()) {
            next_code_point(text, i);
            out.push_back(i);
        }
        return out;
    };
    if (!iter) return per_code_point();
    status = U_ZERO_ERROR;
    UText* ut = utext_openUTF8(nullptr, text.data(), static_cast<int64_t>(text.size()), &status);
    if (U_FAILURE(status)) {
        utext_close(ut);
        return per_code_point();
    }
    iter->setText(ut, status);
    if (U_FAILURE(status)) {
        utext_close(ut);
        return per_code_point();
    }
    iter->first();
    for (int32_t b = iter->next(); b != icu::BreakIterator::DONE; b = iter->next()) {
        const auto pos = static_cast<std::size_t>(b);
        if (pos > out.back() && pos <= text.size()) out.push_back(pos);
    }
    // Detach the iterator from the text before the text goes away.
    static const icu::UnicodeString kEmpty;
    iter->setText(kEmpty);
    utext_close(ut);
    if (out.back() != text.size()) out.push_back(text.size());
    return out;
}

bool is_whitespace(char32_t cp) {
    return u_isUWhiteSpace(static_cast<UChar32>(cp)) != 0;
}

bool is_punctuation(char32_t cp) {
    return (gc_mask(cp) & U_GC_P_MASK) != 0;
}

bool is_ascii_punctuation(char32_t cp) {
    return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
           (cp >= 0x7B && cp <= 0x7E);
}

bool is_numeric(char32_t cp) {
    return (gc_mask(cp) & U_GC_N_MASK) != 0;
}

bool is_alphabetic(char32_t cp) {
    return u_isUAlphabetic(static_cast<UChar32>(cp)) != 0;
}

bool is_alphanumeric(char32_t cp) {
    return is_alphabetic(cp) || is_numeric(cp);
}

bool is_combining_mark(char32_t cp) {
    return (gc_mask(cp) & U_GC_M_MASK) != 0;
}

bool is_mark_nonspacing(char32_t cp) {
    return (gc_mask(cp) & U_GC_MN_MASK) != 0;
}

bool is_other(char32_t cp) {
    return (gc_mask(cp) & U_GC_C_MASK) != 0;
}

bool is_regex_word(char32_t cp) {
    return is_alphabetic(cp) || (gc_mask(cp) & (U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) != 0 ||
           u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_JOIN_CONTROL) != 0;
}

}  // namespace sutra::tokenize
