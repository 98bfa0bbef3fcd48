#pragma once
// Opening files that come from outside without ever blocking: open(2) of a FIFO with no writer
// waits forever and a device can produce bytes without end, so every input file is opened with
// O_NONBLOCK, checked with fstat and refused unless it is a regular file.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace brix::util {

/// Input documents (model, cluster, plan, rules, config.json...) larger than this are refused
/// before they are read: the largest real ones are a few MiB.
inline constexpr std::uint64_t k_max_document_bytes = 64u << 20;

/// An open regular file, read-only; closed on destruction.
class InputFile {
public:
  /// Opens `path`; nullopt with `why` ("No such file or directory", "is a FIFO, not a regular
  /// file", ...) when it cannot be opened or is not a regular file.
  [[nodiscard]] static std::optional<InputFile> open(const std::string& path, std::string& why);
  ~InputFile();
  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&& other) noexcept;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  [[nodiscard]] int fd() const { return m_fd; }
  [[nodiscard]] std::uint64_t size() const { return m_size; }
  /// Bytes from `offset` to the end, at most `limit` of them; empty on a read error.
  [[nodiscard]] std::string read(std::uint64_t offset = 0, std::uint64_t limit = UINT64_MAX) const;

private:
  InputFile(int fd, std::uint64_t size) : m_fd(fd), m_size(size) {}
  int m_fd = -1;
  std::uint64_t m_size = 0;
};

/// "is a FIFO", "is a directory", ... for a file type that is not regular (from st_mode).
[[nodiscard]] std::string_view file_kind(unsigned mode);

/// The whole regular file `path`, or nullopt (with `why`) when it is missing, unreadable, not a
/// regular file or larger than `max_bytes`.
[[nodiscard]] std::optional<std::string> read_regular_file(const std::string& path, std::string& why,
                                                           std::uint64_t max_bytes = k_max_document_bytes);

/// The whole regular file `path`; anything else is an InputError "<path>: <why> (<expected>)".
[[nodiscard]] std::string read_input_file(const std::string& path, std::string_view expected,
                                          std::uint64_t max_bytes = k_max_document_bytes);

} // namespace brix::util
