#pragma once
// The file operations brix's durable writers need, behind an interface (as ninja's
// DiskInterface): LocalFileSystem makes the POSIX calls with fsync of data and directories; unit
// tests use an in-memory fake that can lose power (tests/support/memory_file_system.hpp). The one
// atomic write of brix (util/atomic_file.hpp) is written once on top of this interface.

#include <brix/util/error.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::util {

/// A failed file operation: a JobError "<path>: <what> (<strerror>)" that keeps the path and the
/// errno, so that a caller can name its own target and pick its own error kind.
class FileError : public JobError {
public:
  FileError(std::filesystem::path path, std::string_view what, int error_number);
  [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
  [[nodiscard]] int error_number() const { return m_error_number; }

private:
  std::filesystem::path m_path;
  int m_error_number;
};

class FileSystem {
public:
  virtual ~FileSystem() = default;
  /// The whole file; FileError naming it when it cannot be read.
  [[nodiscard]] virtual std::string read(const std::filesystem::path& path) = 0;
  /// Size of a regular file, nullopt when there is none.
  [[nodiscard]] virtual std::optional<std::uint64_t> size(const std::filesystem::path& path) = 0;
  /// Permission bits of an existing file (through a symbolic link), nullopt when there is none.
  [[nodiscard]] virtual std::optional<unsigned> permissions(const std::filesystem::path& path) = 0;
  /// Creates/truncates `path` (mode 0644 less the umask when new), writes `bytes` and fsyncs the
  /// file (not its directory).
  virtual void write_synced(const std::filesystem::path& path, std::string_view bytes) = 0;
  /// Creates `path` as a new file, writes `bytes` and fsyncs it (not its directory). Its mode is
  /// `mode` exactly, or 0644 less the umask. False, with nothing done, when the name exists (a
  /// symbolic link there is never followed); on any other failure nothing is left at `path`.
  [[nodiscard]] virtual bool create_synced(const std::filesystem::path& path, std::string_view bytes,
                                           std::optional<unsigned> mode) = 0;
  /// rename(2): atomic replacement of `to`.
  virtual void rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  /// fsync of a directory, so that renames and new names in it survive a power loss.
  virtual void sync_directory(const std::filesystem::path& dir) = 0;
  virtual void create_directories(const std::filesystem::path& dir) = 0;
  /// Removes a file; a missing one is fine.
  virtual void remove(const std::filesystem::path& path) = 0;
  /// Names (not paths) of the entries of `dir`, sorted; empty when it does not exist.
  [[nodiscard]] virtual std::vector<std::string> list(const std::filesystem::path& dir) = 0;
};

/// The real file system (POSIX calls).
class LocalFileSystem final : public FileSystem {
public:
  std::string read(const std::filesystem::path& path) override;
  std::optional<std::uint64_t> size(const std::filesystem::path& path) override;
  std::optional<unsigned> permissions(const std::filesystem::path& path) override;
  void write_synced(const std::filesystem::path& path, std::string_view bytes) override;
  bool create_synced(const std::filesystem::path& path, std::string_view bytes,
                     std::optional<unsigned> mode) override;
  void rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  void sync_directory(const std::filesystem::path& dir) override;
  void create_directories(const std::filesystem::path& dir) override;
  void remove(const std::filesystem::path& path) override;
  std::vector<std::string> list(const std::filesystem::path& dir) override;
};

/// The process-wide LocalFileSystem.
[[nodiscard]] FileSystem& local_file_system();

} // namespace brix::util
