#pragma once
// A file written at known offsets from many threads (pwrite), then flushed to disk.

#include <atomic>
#include <cstdint>
#include <span>
#include <string>

namespace brix::util {

class OutputFile {
public:
  /// Creates `path` (it must not exist) and allocates `size` bytes (fallocate; ftruncate where the
  /// file system has no fallocate). Failures are JobErrors: no space is one at creation.
  /// With `writeback_every` > 0, each time that many bytes more were written the file's dirty
  /// pages start going to disk (sync_file_range, SYNC_FILE_RANGE_WRITE: submitted, not waited
  /// for), so the disk writes while the caller still copies and finish() waits only for the tail.
  /// It changes when the bytes reach the disk, not what is durable: finish() still fsyncs.
  OutputFile(const std::string& path, std::uint64_t size, std::uint64_t writeback_every = 0);
  ~OutputFile();
  OutputFile(OutputFile&& other) noexcept;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  OutputFile& operator=(OutputFile&&) = delete;

  /// Writes all of `bytes` at `offset`; safe to call from several threads at once.
  void write_at(std::uint64_t offset, std::span<const std::byte> bytes) const;
  /// fsync and close; errors are JobErrors.
  void finish();
  [[nodiscard]] const std::string& path() const { return m_path; }
  /// How many writes started writeback early: one per multiple of `writeback_every` crossed
  /// (fewer when one write crosses several), 0 without it.
  [[nodiscard]] std::uint64_t writebacks_started() const { return m_writebacks.load(); }

private:
  std::string m_path;
  int m_fd = -1;
  std::uint64_t m_writeback_every = 0;
  mutable std::atomic<std::uint64_t> m_written{0};
  mutable std::atomic<std::uint64_t> m_writebacks{0};
};

/// finish() on every file at once: fsync waits on the disk, not the CPU, so each file gets its
/// own thread (up to 32) whatever the machine's cores, and the filesystem can commit the flushes
/// together instead of one after another. The first error is rethrown after all have returned.
void finish_all(std::span<OutputFile> files);

/// Removes a directory tree, ignoring errors (cleanup after a failure).
void remove_tree_quietly(const std::string& path);

} // namespace brix::util

namespace brix::util {

/// A folder filled under a temporary name beside its target and renamed into place by commit():
/// readers never see a half-written folder, and a failure leaves nothing behind.
class StagedDirectory {
public:
  /// `target` must not exist (InputError naming `what`, e.g. "--out"); its parent must.
  StagedDirectory(const std::string& target, std::string_view what);
  ~StagedDirectory();
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  /// The temporary folder to write into.
  [[nodiscard]] const std::string& path() const { return m_temporary; }
  /// Renames the temporary folder to the target (JobError on failure).
  void commit();

private:
  std::string m_target;
  std::string m_temporary;
  bool m_committed = false;
};

} // namespace brix::util
