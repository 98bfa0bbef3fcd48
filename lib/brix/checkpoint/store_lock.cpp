#include <brix/checkpoint/store_lock.hpp>

#include <brix/util/error.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

namespace brix::checkpoint {

StoreLock::StoreLock(const std::filesystem::path& dir, Mode mode) {
  const auto path = dir / ".lock";
  m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (m_fd < 0) {
    throw JobError(fmt::format("{}: cannot open lock file ({})", path.string(), std::strerror(errno)));
  }
  int rc = 0;
  while ((rc = ::flock(m_fd, mode == Mode::shared ? LOCK_SH : LOCK_EX)) != 0 && errno == EINTR) {
  }
  if (rc != 0) {
    const int error = errno;
    ::close(m_fd);
    throw JobError(fmt::format("{}: cannot lock ({})", path.string(), std::strerror(error)));
  }
}

StoreLock::~StoreLock() { ::close(m_fd); }

} // namespace brix::checkpoint
