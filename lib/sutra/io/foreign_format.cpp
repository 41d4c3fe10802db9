#include "sutra/io/foreign_format.hpp"

#include <string_view>

namespace sutra::io {
namespace {

// The safetensors header limit (io/safetensors_header.hpp), repeated to keep this file pure.
constexpr uint64_t kMaxPlausibleHeader = 100'000'000;

constexpr const char* kConvert =
    "convert it to safetensors first, e.g. with transformers: "
    "`AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(OUT)` writes model.safetensors";

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != prefix[i]) return false;
    }
    return true;
}

std::string_view skip_space(std::string_view s) {
    while (!s.empty() && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r'))
        s.remove_prefix(1);
    return s;
}

// "size 2200119864" from a Git LFS pointer, if there.
std::string lfs_size(std::string_view s) {
    const size_t at = s.find("\nsize ");
    if (at == std::string_view::npos) return "";
    std::string digits;
    for (size_t i = at + 6; i < s.size() && s[i] >= '0' && s[i] <= '9' && digits.size() < 20; ++i)
        digits += s[i];
    return digits;
}

// Printable text: UTF-8 without control characters other than tabs and line breaks. A
// sequence cut by the end of `s` (the sniffed head of a longer file) is allowed.
bool is_text(std::string_view s) {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size();) {
        const auto u = static_cast<unsigned char>(s[i]);
        if (u < 0x80) {
            if ((u < 0x20 && u != '\n' && u != '\r' && u != '\t') || u == 0x7f) return false;
            ++i;
            continue;
        }
        const size_t len = u >= 0xc2 && u <= 0xdf
                               ? 2
                               : (u >= 0xe0 && u <= 0xef ? 3 : (u >= 0xf0 && u <= 0xf4 ? 4 : 0));
        if (len == 0) return false;
        for (size_t k = 1; k < len; ++k) {
            if (i + k >= s.size()) return true;  // cut at the end of the head
            if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
        }
        i += len;
    }
    return true;
}

}  // namespace

std::optional<std::string> describe_foreign_format(std::span<const uint8_t> head) {
    if (head.size() > kForeignSniffBytes) head = head.first(kForeignSniffBytes);
    const std::string_view s(reinterpret_cast<const char*>(head.data()), head.size());

    if (starts_with(s, "version https://git-lfs.github.com/spec/")) {
        const std::string size = lfs_size(s);
        return "this is a Git LFS pointer, not the weights" +
               (size.empty() ? std::string() : " (the real file has " + size + " bytes)") +
               "; run `git lfs pull` in the repository (or download the file itself)";
    }
    if (starts_with(s, "SUTRAPT1"))
        return std::string(
            "a sutra part file (one part of `sutra quantize --part K/N`), not a whole .qbin; put "
            "the parts together first: sutra merge OUT.qbin.part-* -o OUT.qbin");
    if (starts_with(s, "GGUF"))
        return std::string(
            "a GGUF file (llama.cpp); sutra reads safetensors: use the model's original Hugging "
            "Face checkpoint (*.safetensors) instead");
    if (starts_with(s, "PK\x03\x04")) {
        // PyTorch's zip format keeps its pickle in "<name>/data.pkl", usually the first entry.
        if (s.find("data.pkl") != std::string_view::npos ||
            s.find("/version") != std::string_view::npos ||
            s.find("/byteorder") != std::string_view::npos)
            return std::string("a PyTorch zip checkpoint (pytorch_model.bin), not safetensors; ") +
                   kConvert;
        return std::string(
            "a ZIP archive, not a safetensors file; unpack it first (a PyTorch checkpoint "
            "inside must be converted to safetensors)");
    }
    if (s.size() >= 2 && static_cast<uint8_t>(s[0]) == 0x80 && s[1] >= 2 && s[1] <= 5)
        return std::string(
                   "a Python pickle (a legacy PyTorch checkpoint, pytorch_model.bin), not "
                   "safetensors; ") +
               kConvert;
    if (starts_with(s, "\x93NUMPY"))
        return std::string(
            "a NumPy .npy array, not a safetensors file; save arrays with "
            "safetensors.numpy.save_file");
    if (starts_with(s, "\x1f\x8b"))
        return std::string("a gzip-compressed file; decompress it first (gunzip)");
    if (starts_with(s, "\x28\xb5\x2f\xfd"))
        return std::string("a zstd-compressed file; decompress it first (zstd -d)");
    if (starts_with(s,
                    "\xfd"
                    "7zXZ"))
        return std::string("an xz-compressed file; decompress it first (unxz)");
    if (s.size() >= 262 && s.substr(257, 5) == "ustar")
        return std::string("a tar archive; unpack it first (tar -xf) and pass the model folder");

    std::string_view text = s;
    if (starts_with(text, "\xef\xbb\xbf")) text.remove_prefix(3);
    text = skip_space(text);
    if (starts_with_nocase(text, "<!doctype html") || starts_with_nocase(text, "<html"))
        return std::string(
            "an HTML page (a failed download?), not the weights; download the file again (from "
            "the Hugging Face hub: a .../resolve/main/FILE link, not .../blob/main/FILE)");
    if (starts_with_nocase(text, "<?xml"))
        return std::string(
            "an XML document (a storage service's error reply?), not the weights; download the "
            "file again");
    if (starts_with(text, "{")) {
        const std::string_view rest = skip_space(text.substr(1));
        if (starts_with(rest, "\"") || starts_with(rest, "}"))
            return std::string(
                "a JSON text file, not a safetensors file (which begins with an 8-byte header "
                "length before its JSON); pass the model's .safetensors file, its index or its "
                "folder");
    }
    // Plain text (an error reply saved by a download tool: "Entry not found", "Access denied"):
    // every byte printable or a line break, and the beginning quoted.
    if (is_text(s)) {
        std::string begin;
        for (char c : skip_space(s)) {
            if (c == '\n' || c == '\r' || begin.size() >= 60) break;
            if (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f)
                begin += c;
        }
        return "a text file, not a safetensors file (it begins \"" + begin +
               "\"; a failed download?); download the file again";
    }
    return std::nullopt;
}

bool looks_like_safetensors(std::span<const uint8_t> head, uint64_t file_size) {
    if (head.size() < 9 || file_size < 8) return false;
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
        n = (n << 8) | head[static_cast<size_t>(i)];
    if (n < 2 || n > kMaxPlausibleHeader || n > file_size - 8) return false;
    size_t i = 8;
    while (i < head.size() &&
           (head[i] == ' ' || head[i] == '\t' || head[i] == '\n' || head[i] == '\r'))
        ++i;
    return i < head.size() && head[i] == '{';
}

Error name_foreign_format(Error parse_error, std::span<const uint8_t> head, uint64_t file_size,
                          const std::string& what) {
    if (looks_like_safetensors(head, file_size)) return parse_error;
    if (auto d = describe_foreign_format(head))
        return make_error(Errc::bad_format, what + ": " + *d);
    return parse_error;
}

}  // namespace sutra::io
