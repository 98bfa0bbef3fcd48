#include <brix/monitor/unix_datagram.hpp>

#include <brix/monitor/report_protocol.hpp>
#include <brix/util/error.hpp>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace brix::monitor {

namespace {
sockaddr_un address_of(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    throw JobError(fmt::format("{}: a Unix socket path must have 1 to {} bytes (got {})", path,
                               sizeof(address.sun_path) - 1, path.size()));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}
} // namespace

DatagramReceiver::DatagramReceiver(std::string path) : m_path(std::move(path)) {
  const auto address = address_of(m_path);
  m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (m_fd < 0) {
    throw JobError(fmt::format("cannot create a Unix socket: {}", std::strerror(errno)));
  }
  ::unlink(m_path.c_str());
  if (::bind(m_fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    ::close(m_fd);
    throw JobError(fmt::format("{}: cannot bind the monitor socket: {}", m_path, std::strerror(error)));
  }
  const int on = 1;
  ::setsockopt(m_fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
  // Thousands of ranks per node are not expected, but bursts at step boundaries are: 4 MiB.
  const int buffer = 4 << 20;
  ::setsockopt(m_fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
}

DatagramReceiver::~DatagramReceiver() {
  if (m_fd >= 0) {
    ::close(m_fd);
    ::unlink(m_path.c_str());
  }
}

std::optional<Datagram> DatagramReceiver::receive(int timeout_ms, int wake_fd) {
  pollfd items[] = {{m_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  const int ready = ::poll(items, wake_fd >= 0 ? 2 : 1, timeout_ms);
  if (ready <= 0 || (items[0].revents & POLLIN) == 0) {
    return std::nullopt;
  }
  char buffer[k_max_report_bytes * 4];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  iovec io{buffer, sizeof(buffer)};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  const auto size = ::recvmsg(m_fd, &message, MSG_DONTWAIT);
  if (size < 0) {
    return std::nullopt;
  }
  Datagram datagram;
  datagram.text.assign(buffer, static_cast<std::size_t>(size));
  for (auto* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_CREDENTIALS) {
      ucred credentials{};
      std::memcpy(&credentials, CMSG_DATA(header), sizeof(credentials));
      datagram.pid = credentials.pid;
    }
  }
  return datagram;
}

DatagramSender::DatagramSender(std::string path) : m_path(std::move(path)) {
  (void)address_of(m_path); // validates the length up front
  m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

DatagramSender::~DatagramSender() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

bool DatagramSender::connect_to_collector() {
  const auto address = address_of(m_path);
  m_connected = ::connect(m_fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  return m_connected;
}

bool DatagramSender::send(std::string_view text) {
  if (m_fd < 0) {
    return false;
  }
  // Two attempts: the collector may have restarted (a stale connection is refused) or its queue
  // (net.unix.max_dgram_qlen, 10 by default) may be full for a moment.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!m_connected && !connect_to_collector()) {
      return false;
    }
    if (::send(m_fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(text.size())) {
      return true;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // A connected datagram socket polls writable when the collector's queue has room.
      pollfd item{m_fd, POLLOUT, 0};
      if (::poll(&item, 1, k_full_queue_wait_ms) <= 0) {
        return false;
      }
    } else {
      m_connected = false; // ECONNREFUSED, ENOENT: reconnect to the collector's new socket
    }
  }
  return false;
}

} // namespace brix::monitor
