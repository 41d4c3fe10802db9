#pragma once
// Paths the tests use: the shared fixtures (../shared beside the checkout) and scratch folders.
#include <filesystem>
#include <string>

namespace sutra::test {

inline std::filesystem::path shared_dir() {
    return SUTRA_SHARED_DIR;
}
inline std::filesystem::path source_dir() {
    return SUTRA_SOURCE_DIR;
}

// A fresh empty folder under the system temp dir, removed when the object dies.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

}  // namespace sutra::test
