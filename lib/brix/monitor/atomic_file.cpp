#include <brix/monitor/atomic_file.hpp>

#include <brix/util/error.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

namespace brix::monitor {

void write_file_atomically(const std::string& path, std::string_view text, unsigned mode) {
  // A hidden temporary name: node_exporter only reads *.prom, readers of *.json skip dot files.
  const auto slash = path.rfind('/');
  const auto dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
  const auto base = slash == std::string::npos ? path : path.substr(slash + 1);
  const auto temp = fmt::format("{}.{}.{}.tmp", dir, base, ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    throw JobError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  }
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      throw JobError(fmt::format("{}: cannot write: {}", path, std::strerror(error)));
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw JobError(fmt::format("{}: cannot rename into place: {}", path, std::strerror(error)));
  }
}

} // namespace brix::monitor
