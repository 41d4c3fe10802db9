// libFuzzer target: the pure safetensors header parser (io::parse_safetensors_bytes) on a whole
// in-memory file: 8-byte little-endian header length, JSON header, data. Every input must give
// a header or an error value, never a crash, an exception or unbounded work. An accepted header
// is checked against the invariants the rest of sutra relies on.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "sutra/base/checked.hpp"
#include "sutra/io/safetensors_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> file(data, size);
    auto h = sutra::io::parse_safetensors_bytes(file, "fuzz.safetensors");
    if (!h.ok()) return 0;
    // Accepted: the tensors tile the data section exactly and their sizes agree with dtype and
    // shape (safetensors_header.hpp).
    if (h->data_start != 8 + h->header_len || h->data_start + h->data_len != size) std::abort();
    uint64_t covered = 0;
    for (const auto& t : h->tensors) {
        auto numel = sutra::checked_product(t.shape);
        if (!numel || *numel != t.numel) std::abort();
        if (t.end < t.begin || t.end > h->data_len) std::abort();
        const auto nbytes = sutra::dtype_nbytes(t.dtype, t.numel);
        if (!nbytes || t.nbytes() != *nbytes) std::abort();
        covered += t.nbytes();
    }
    if (covered != h->data_len) std::abort();
    return 0;
}
