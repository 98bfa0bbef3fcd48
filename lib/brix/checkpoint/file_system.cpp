#include <brix/checkpoint/file_system.hpp>

#include <brix/util/error.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace brix::checkpoint {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const fs::path& path, std::string_view what, int error) {
  throw JobError(fmt::format("{}: {} ({})", path.string(), what, std::strerror(error)));
}

/// A name no other writer (thread or process) uses at the same time.
std::string temp_name(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  return fmt::format("{}{}.{}.{}", k_temp_prefix, target.filename().string(), ::getpid(), counter++);
}

} // namespace

std::string LocalFileSystem::read(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail(path, "cannot open", errno);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    fail(path, "cannot stat", error);
  }
  std::string bytes(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      fail(path, "cannot read", error);
    }
    if (n == 0) {
      bytes.resize(done); // shrank while reading
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return bytes;
}

std::optional<std::uint64_t> LocalFileSystem::size(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(info.st_size);
}

void LocalFileSystem::write_synced(const fs::path& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    fail(path, "cannot create", errno);
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      fail(path, "cannot write", error);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    fail(path, "cannot fsync", error);
  }
  if (::close(fd) != 0) {
    fail(path, "cannot close", errno);
  }
}

void LocalFileSystem::rename(const fs::path& from, const fs::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    fail(to, fmt::format("cannot rename {} to it", from.string()), errno);
  }
}

void LocalFileSystem::sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    fail(dir, "cannot open directory", errno);
  }
  const bool ok = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!ok) {
    fail(dir, "cannot fsync directory", error);
  }
}

void LocalFileSystem::create_directories(const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    throw JobError(fmt::format("{}: cannot create directory ({})", dir.string(), error.message()));
  }
}

void LocalFileSystem::remove(const fs::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    fail(path, "cannot remove", errno);
  }
}

std::vector<std::string> LocalFileSystem::list(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

FileSystem& local_file_system() {
  static LocalFileSystem fs;
  return fs;
}

void publish_file(FileSystem& fs, const fs::path& path, std::string_view bytes) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const fs::path temp = dir / temp_name(path);
  fs.write_synced(temp, bytes);
  fs.rename(temp, path);
  fs.sync_directory(dir);
}

} // namespace brix::checkpoint
