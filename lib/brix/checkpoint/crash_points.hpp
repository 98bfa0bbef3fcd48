#pragma once
// Deterministic crash points for fault tests of the checkpoint writer: a FileSystem that, at the
// N-th durable step of a writer, hands control to a crash action (in `brix-worker
// checkpoint-stress`, SIGKILL of its own process; BRIX_CHECKPOINT_CRASH_AT=N). The steps, in the
// order a save makes them: before a write, a write cut short (half the bytes), after a write and
// its fsync, before a rename, after it, after a directory fsync, after a removal.

#include <brix/util/file_system.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace brix::checkpoint {

/// Called at the chosen crash point with its description ("crash point 7: after rename
/// DIR/latest"); it must not return (kill the process, or throw in tests).
using CrashAction = std::function<void(const std::string& point)>;

class CrashPointFileSystem final : public util::FileSystem {
public:
  /// `crash_at` ≥ 1: the step to crash at, counted from 1 over this object's life.
  CrashPointFileSystem(util::FileSystem& real, std::int64_t crash_at, CrashAction crash);

  std::string read(const std::filesystem::path& path) override { return m_real.read(path); }
  std::optional<std::uint64_t> size(const std::filesystem::path& path) override { return m_real.size(path); }
  std::optional<unsigned> permissions(const std::filesystem::path& path) override { return m_real.permissions(path); }
  void write_synced(const std::filesystem::path& path, std::string_view bytes) override;
  bool create_synced(const std::filesystem::path& path, std::string_view bytes, std::optional<unsigned> mode) override;
  void rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  void sync_directory(const std::filesystem::path& dir) override;
  void create_directories(const std::filesystem::path& dir) override { m_real.create_directories(dir); }
  void remove(const std::filesystem::path& path) override;
  std::vector<std::string> list(const std::filesystem::path& dir) override { return m_real.list(dir); }

  /// Steps passed so far.
  [[nodiscard]] std::int64_t steps() const { return m_steps; }

private:
  /// Counts a step; true when it is the one to crash at.
  bool reached() { return ++m_steps == m_crash_at; }
  void step(std::string_view what, const std::filesystem::path& path);
  [[noreturn]] void crash(std::string_view what, const std::filesystem::path& path);

  util::FileSystem& m_real;
  std::int64_t m_crash_at;
  CrashAction m_crash;
  std::int64_t m_steps = 0;
};

/// The crash action of a real writer: the description on standard error, then SIGKILL.
[[noreturn]] void kill_self(const std::string& point);

/// BRIX_CHECKPOINT_CRASH_AT's value: nullopt when unset or empty; InputError unless a positive
/// integer.
[[nodiscard]] std::optional<std::int64_t> parse_crash_at(const char* value);

} // namespace brix::checkpoint
