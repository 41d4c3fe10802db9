#include "sutra/io/mapped_file.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace sutra::io {

Result<std::shared_ptr<const MappedFile>> MappedFile::map(const InputFile& file) {
    if (file.size() == 0) return std::shared_ptr<const MappedFile>(new MappedFile(nullptr, 0));
    void* p = ::mmap(nullptr, file.size(), PROT_READ, MAP_PRIVATE, file.fd(), 0);
    if (p == MAP_FAILED)
        return make_error(Errc::io, file.path().string() + ": cannot memory-map " +
                                        std::to_string(file.size()) +
                                        " bytes: " + std::strerror(errno) +
                                        " (pass --no-mmap to read it instead)");
    // The forward pass reads every weight once per step: ask for the pages ahead of time.
    (void)::madvise(p, file.size(), MADV_WILLNEED);
    return std::shared_ptr<const MappedFile>(
        new MappedFile(static_cast<const uint8_t*>(p), file.size()));
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace sutra::io
