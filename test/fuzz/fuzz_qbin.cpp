// libFuzzer target: the .qbin reader (format::QbinFile) on a whole file. The input is written
// to an in-memory file (memfd) and opened by its /proc path, as sutra opens any file; when
// open() accepts it, every stored tensor is verified (verify_data) and every record is read
// back as f32 (read_rows_f32), a bounded number of rows at a time.
//
// The header checksum would stop almost every mutation at open(), so the target first
// rewrites the 16 digits of "sutra.header_xxh3" with the checksum of the mutated header (when
// the field is there exactly once): the fuzzer then explores the profile and the tensor table.
// The checksum mismatch path itself is covered by the unit tests.
//
// Every input must give a QbinFile or an error value, never a crash, an exception or
// unbounded work. An accepted file must not promise more values than its bytes can hold.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/checksum.hpp"
#include "sutra/format/qbin_format.hpp"
#include "sutra/format/qbin_reader.hpp"

namespace {

// Values read back per read_rows_f32 call (at least one row).
constexpr uint64_t kChunkValues = 1 << 16;

int memory_file() {
    static const int fd = memfd_create("fuzz.qbin", MFD_CLOEXEC);
    if (fd < 0) {
        std::perror("memfd_create");
        std::abort();
    }
    return fd;
}

bool write_all(int fd, const uint8_t* data, size_t size) {
    if (ftruncate(fd, 0) != 0) return false;
    size_t done = 0;
    while (done < size) {
        const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

// Rewrites the header checksum digits so that they match the (mutated) header.
void fix_header_checksum(std::vector<uint8_t>& file) {
    if (file.size() < 8) return;
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
        n = (n << 8) | file[static_cast<size_t>(i)];
    if (n > file.size() - 8) return;
    const std::string_view prefix(reinterpret_cast<const char*>(file.data()), 8);
    const std::string_view header(reinterpret_cast<const char*>(file.data()) + 8, n);
    size_t at = 0;
    auto sum = sutra::format::header_checksum(prefix, header, &at);
    if (!sum.ok()) return;
    const std::string hex = sutra::hex64(*sum);
    std::memcpy(file.data() + 8 + at, hex.data(), 16);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<uint8_t> file(data, data + size);
    fix_header_checksum(file);
    const int fd = memory_file();
    if (!write_all(fd, file.data(), file.size())) {
        std::perror("writing the memfd");
        std::abort();
    }
    auto q = sutra::format::QbinFile::open("/proc/self/fd/" + std::to_string(fd));
    if (!q.ok()) return 0;
    auto damage = q->verify_data();
    (void)damage;
    std::vector<float> out;
    for (const auto& r : q->records()) {
        const uint64_t rows = sutra::format::QbinFile::rows_of(r);
        const uint64_t cols = sutra::format::QbinFile::cols_of(r);
        if (rows == 0 || cols == 0) continue;
        // Every value takes at least 3 bits of the file (3-bit codes; raw tensors more).
        if (cols > size * 8 / 3 || rows > size * 8 / 3 / cols) {
            std::fprintf(stderr, "record '%s': %llu x %llu values from a %zu-byte file\n",
                         r.name.c_str(), static_cast<unsigned long long>(rows),
                         static_cast<unsigned long long>(cols), size);
            std::abort();
        }
        const uint64_t step = std::max<uint64_t>(1, kChunkValues / cols);
        out.resize(static_cast<size_t>(std::min(step, rows) * cols));
        for (uint64_t row = 0; row < rows; row += step) {
            const uint64_t nrows = std::min(step, rows - row);
            if (!q->read_rows_f32(r, row, nrows, out.data()).ok()) break;
        }
        (void)q->find(r.name);
    }
    return 0;
}
