#pragma once
// A read-only memory map of a whole file: the OS pages it in on demand and drops clean pages
// under pressure, so reading a checkpoint many times larger than memory stays bounded.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace brix::util {

class MappedFile {
public:
  /// Maps `path`; a missing or unreadable file is an InputError naming it.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  [[nodiscard]] const std::string& path() const { return m_path; }
  [[nodiscard]] std::span<const std::byte> bytes() const { return {m_data, m_size}; }
  [[nodiscard]] std::uint64_t size() const { return m_size; }
  /// Tells the OS that [offset, offset + length) is read once, front to back.
  void advise_sequential(std::uint64_t offset, std::uint64_t length) const;
  /// Tells the OS that [offset, offset + length) is no longer needed (after it was streamed).
  void advise_done(std::uint64_t offset, std::uint64_t length) const;

private:
  std::string m_path;
  const std::byte* m_data = nullptr;
  std::size_t m_size = 0;
};

} // namespace brix::util
