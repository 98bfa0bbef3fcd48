#pragma once
// A fresh temporary directory for one test, removed with everything in it when the test's scope
// ends — also when a REQUIRE fails or the code under test throws.

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace brix::test {

class TempDir {
public:
  /// A new directory $TMPDIR/brix-test-XXXXXX (mkdtemp: unique even across parallel tests).
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "brix-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    m_path = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored; // a destructor must not throw; a leftover directory is harmless
    std::filesystem::remove_all(m_path, ignored);
  }

  [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
  /// The path of `name` (which may contain '/') inside the directory; nothing is created.
  [[nodiscard]] std::string file(std::string_view name) const { return (m_path / name).string(); }
  /// Writes `content` to `name`, creating the folders on the way; returns its path.
  std::string write(std::string_view name, std::string_view content) const {
    const auto target = m_path / name;
    std::filesystem::create_directories(target.parent_path());
    std::ofstream(target, std::ios::binary) << content;
    return target.string();
  }

private:
  std::filesystem::path m_path;
};

} // namespace brix::test
