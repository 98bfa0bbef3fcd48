#include <brix/util/atomic_file.hpp>

#include <brix/util/error.hpp>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <unistd.h>

namespace brix::util {

namespace fs = std::filesystem;

namespace {

/// A name no other writer uses at the same time: the process id tells processes apart, the
/// counter threads and successive writes. A name that exists anyway (a leftover of a crashed
/// process that had the same id, a writer on another host of a shared file system) is skipped.
fs::path temp_name(const fs::path& dir, const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  return dir / fmt::format("{}{}.{}.{}", k_temp_prefix, target.filename().string(), ::getpid(), counter++);
}

/// Names tried before giving up: only as many leftovers as crashed writers can collide.
constexpr int k_max_names = 100;

void write_through(FileSystem& fs, const fs::path& path, std::string_view bytes, const AtomicWriteOptions& options) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const auto mode = options.mode ? options.mode : fs.permissions(path);
  fs::path temp = temp_name(dir, path);
  for (int tries = 1; !fs.create_synced(temp, bytes, mode); ++tries) {
    if (tries == k_max_names) {
      throw FileError(temp, "cannot create", EEXIST);
    }
    temp = temp_name(dir, path);
  }
  try {
    fs.rename(temp, path);
  } catch (const FileError&) {
    try {
      fs.remove(temp);
    } catch (const FileError&) {
      // The rename's failure is the one to report.
    }
    throw;
  }
  if (options.sync_directory) {
    fs.sync_directory(dir);
  }
}

} // namespace

void write_atomically(FileSystem& fs, const fs::path& path, std::string_view bytes, const AtomicWriteOptions& options) {
  try {
    write_through(fs, path, bytes, options);
  } catch (const FileError& error) {
    const auto why = std::strerror(error.error_number());
    if (options.failure == WriteFailure::input_error) {
      throw InputError(located(path.string(), 0, fmt::format("cannot write ({})", why),
                               "a writable path in an existing directory"));
    }
    throw FileError(path, "cannot write", error.error_number());
  }
}

void write_file_atomically(const std::string& path, std::string_view bytes, const AtomicWriteOptions& options) {
  write_atomically(local_file_system(), path, bytes, options);
}

} // namespace brix::util
