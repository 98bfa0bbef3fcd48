#pragma once
// The few file operations the checkpoint store needs, behind an interface: the real one does
// durable writes (fsync of data and directories); tests wrap it to "crash" after any operation.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::checkpoint {

class FileSystem {
public:
  virtual ~FileSystem() = default;
  /// The whole file; JobError naming it when it cannot be read.
  [[nodiscard]] virtual std::string read(const std::filesystem::path& path) = 0;
  /// Size of a regular file, nullopt when there is none.
  [[nodiscard]] virtual std::optional<std::uint64_t> size(const std::filesystem::path& path) = 0;
  /// Creates/truncates `path`, writes `bytes` and fsyncs the file (not its directory).
  virtual void write_synced(const std::filesystem::path& path, std::string_view bytes) = 0;
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
  void write_synced(const std::filesystem::path& path, std::string_view bytes) override;
  void rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  void sync_directory(const std::filesystem::path& dir) override;
  void create_directories(const std::filesystem::path& dir) override;
  void remove(const std::filesystem::path& path) override;
  std::vector<std::string> list(const std::filesystem::path& dir) override;
};

/// The process-wide LocalFileSystem.
[[nodiscard]] FileSystem& local_file_system();

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one: a
/// temporary name in the same directory, fsync, rename, fsync of the directory.
void publish_file(FileSystem& fs, const std::filesystem::path& path, std::string_view bytes);

/// The prefix of the temporary names publish_file and the store use (garbage collection removes
/// leftovers of crashed writers).
inline constexpr std::string_view k_temp_prefix = ".tmp-";

} // namespace brix::checkpoint
