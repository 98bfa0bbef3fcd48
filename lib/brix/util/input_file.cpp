// Non-blocking, regular-files-only opening of input files (input_file.hpp).
#include <brix/util/input_file.hpp>

#include <brix/util/error.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace brix::util {

std::string_view file_kind(unsigned mode) {
  switch (mode & S_IFMT) {
  case S_IFREG:
    return "is a regular file";
  case S_IFDIR:
    return "is a directory";
  case S_IFIFO:
    return "is a FIFO";
  case S_IFCHR:
    return "is a character device";
  case S_IFBLK:
    return "is a block device";
  case S_IFSOCK:
    return "is a socket";
  default:
    return "is not a regular file";
  }
}

std::optional<InputFile> InputFile::open(const std::string& path, std::string& why) {
  // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    why = std::strerror(errno);
    return std::nullopt;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    why = std::strerror(errno);
    ::close(fd);
    return std::nullopt;
  }
  if (!S_ISREG(info.st_mode)) {
    why = fmt::format("{}, not a regular file", file_kind(info.st_mode));
    ::close(fd);
    return std::nullopt;
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) {
    (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }
  return InputFile(fd, static_cast<std::uint64_t>(info.st_size));
}

InputFile::~InputFile() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

InputFile::InputFile(InputFile&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)), m_size(std::exchange(other.m_size, 0)) {}

InputFile& InputFile::operator=(InputFile&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = std::exchange(other.m_fd, -1);
    m_size = std::exchange(other.m_size, 0);
  }
  return *this;
}

std::string InputFile::read(std::uint64_t offset, std::uint64_t limit) const {
  if (offset >= m_size) {
    return {};
  }
  std::string bytes(static_cast<std::size_t>(std::min(limit, m_size - offset)), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::pread(m_fd, bytes.data() + done, bytes.size() - done,
                           static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break; // an error or a file that shrank: what was read
    }
    done += static_cast<std::size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

std::optional<std::string> read_regular_file(const std::string& path, std::string& why, std::uint64_t max_bytes) {
  const auto file = InputFile::open(path, why);
  if (!file) {
    return std::nullopt;
  }
  if (file->size() > max_bytes) {
    why = fmt::format("has {} bytes, more than the {} an input file may have", file->size(), max_bytes);
    return std::nullopt;
  }
  return file->read();
}

std::string read_input_file(const std::string& path, std::string_view expected, std::uint64_t max_bytes) {
  std::string why;
  const auto file = InputFile::open(path, why);
  if (!file) {
    fail_input(path, 0, fmt::format("cannot open the file: {}", why), expected);
  }
  if (file->size() > max_bytes) {
    fail_input(path, 0, fmt::format("the file has {} bytes, more than the {} an input file may have",
                                    file->size(), max_bytes),
               expected);
  }
  return file->read();
}

} // namespace brix::util
