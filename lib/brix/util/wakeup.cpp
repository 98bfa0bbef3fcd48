// Wakeup: one non-blocking eventfd.
#include <brix/util/wakeup.hpp>

#include <brix/util/error.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace brix::util {

Wakeup::Wakeup() : m_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (m_fd < 0) {
    throw JobError(fmt::format("eventfd: {}", std::strerror(errno)));
  }
}

Wakeup::~Wakeup() { ::close(m_fd); }

void Wakeup::notify() const {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto ignored = ::write(m_fd, &one, sizeof one);
}

bool Wakeup::clear() const {
  std::uint64_t count = 0;
  return ::read(m_fd, &count, sizeof count) == static_cast<ssize_t>(sizeof count);
}

} // namespace brix::util
