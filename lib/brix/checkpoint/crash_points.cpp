#include <brix/checkpoint/crash_points.hpp>

#include <brix/util/error.hpp>

#include <charconv>
#include <csignal>
#include <cstdlib>
#include <fmt/format.h>
#include <unistd.h>

namespace brix::checkpoint {

namespace fs = std::filesystem;

CrashPointFileSystem::CrashPointFileSystem(util::FileSystem& real, std::int64_t crash_at, CrashAction crash)
    : m_real(real), m_crash_at(crash_at), m_crash(std::move(crash)) {}

void CrashPointFileSystem::crash(std::string_view what, const fs::path& path) {
  m_crash(fmt::format("crash point {}: {} {}", m_steps, what, path.string()));
  std::abort(); // a crash action that returns is a bug of the test
}

void CrashPointFileSystem::step(std::string_view what, const fs::path& path) {
  if (reached()) {
    crash(what, path);
  }
}

void CrashPointFileSystem::write_synced(const fs::path& path, std::string_view bytes) {
  step("before write", path);
  if (reached()) {
    m_real.write_synced(path, bytes.substr(0, bytes.size() / 2));
    crash("write cut short (half the bytes) of", path);
  }
  m_real.write_synced(path, bytes);
  step("after write and fsync of", path);
}

bool CrashPointFileSystem::create_synced(const fs::path& path, std::string_view bytes, std::optional<unsigned> mode) {
  // The steps of write_synced: the temporary file of an atomic write is a write like any other.
  step("before write", path);
  if (reached()) {
    (void)m_real.create_synced(path, bytes.substr(0, bytes.size() / 2), mode);
    crash("write cut short (half the bytes) of", path);
  }
  const bool created = m_real.create_synced(path, bytes, mode);
  step("after write and fsync of", path);
  return created;
}

void CrashPointFileSystem::rename(const fs::path& from, const fs::path& to) {
  step("before rename to", to);
  m_real.rename(from, to);
  step("after rename to", to);
}

void CrashPointFileSystem::sync_directory(const fs::path& dir) {
  m_real.sync_directory(dir);
  step("after fsync of directory", dir);
}

void CrashPointFileSystem::remove(const fs::path& path) {
  m_real.remove(path);
  step("after removing", path);
}

void kill_self(const std::string& point) {
  const auto line = point + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  ::raise(SIGKILL);
  ::_exit(137);
}

std::optional<std::int64_t> parse_crash_at(const char* value) {
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  const std::string_view text(value);
  std::int64_t n = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (error != std::errc() || end != text.data() + text.size() || n < 1) {
    throw InputError(located("BRIX_CHECKPOINT_CRASH_AT", 0, fmt::format("'{}'", text), "a step number >= 1"));
  }
  return n;
}

} // namespace brix::checkpoint
