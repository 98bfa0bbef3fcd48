#include <brix/util/file_system.hpp>

#include <brix/util/input_file.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace brix::util {

namespace fs = std::filesystem;

FileError::FileError(fs::path path, std::string_view what, int error_number)
    : JobError(fmt::format("{}: {} ({})", path.string(), what, std::strerror(error_number))),
      m_path(std::move(path)), m_error_number(error_number) {}

namespace {

/// Writes all of `bytes` to `fd`, then fsyncs and closes it (closed also on failure). FileError
/// naming `path` on failure.
void write_sync_close(int fd, const fs::path& path, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      throw FileError(path, "cannot write", error);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    throw FileError(path, "cannot fsync", error);
  }
  if (::close(fd) != 0) {
    throw FileError(path, "cannot close", errno);
  }
}

} // namespace

std::string LocalFileSystem::read(const fs::path& path) {
  // O_NONBLOCK: a FIFO planted at the name must not hang the open; only regular files are read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    throw FileError(path, "cannot open", errno);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    throw FileError(path, "cannot stat", error);
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw FileError(path, fmt::format("cannot read: {}, not a regular file", file_kind(info.st_mode)), EINVAL);
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
      throw FileError(path, "cannot read", error);
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

std::optional<unsigned> LocalFileSystem::permissions(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return std::nullopt;
  }
  return static_cast<unsigned>(info.st_mode & 07777);
}

void LocalFileSystem::write_synced(const fs::path& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw FileError(path, "cannot create", errno);
  }
  write_sync_close(fd, path, bytes);
}

bool LocalFileSystem::create_synced(const fs::path& path, std::string_view bytes, std::optional<unsigned> mode) {
  // O_EXCL: a new file or nothing, and never through a symbolic link planted at the name.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) {
      return false;
    }
    throw FileError(path, "cannot create", errno);
  }
  try {
    if (mode && ::fchmod(fd, static_cast<mode_t>(*mode)) != 0) {
      const int error = errno;
      ::close(fd);
      throw FileError(path, "cannot set the mode of", error);
    }
    write_sync_close(fd, path, bytes);
  } catch (const FileError&) {
    ::unlink(path.c_str());
    throw;
  }
  return true;
}

void LocalFileSystem::rename(const fs::path& from, const fs::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    throw FileError(to, fmt::format("cannot rename {} to it", from.string()), errno);
  }
}

void LocalFileSystem::sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    throw FileError(dir, "cannot open directory", errno);
  }
  const bool ok = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!ok) {
    throw FileError(dir, "cannot fsync directory", error);
  }
}

void LocalFileSystem::create_directories(const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    throw FileError(dir, "cannot create directory", error.value());
  }
}

void LocalFileSystem::remove(const fs::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw FileError(path, "cannot remove", errno);
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

} // namespace brix::util
