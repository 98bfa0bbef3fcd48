#include <brix/net/stream_socket.hpp>

#include <brix/net/socket.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace brix::net {

HostPort parse_host_port(std::string_view text, std::string_view default_host, std::string_view what) {
  HostPort out{std::string(default_host), 0};
  std::string_view port_text = text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw InputError(fmt::format("{}: '{}' is not [ADDR]:PORT", what, text));
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  const auto port = util::parse_int(port_text);
  if (!port || *port < 0 || *port > 65535 || out.host.empty()) {
    throw InputError(fmt::format("{}: '{}' is not [ADDR:]PORT (expected a port 0-65535, e.g. 127.0.0.1:9464)",
                                 what, text));
  }
  out.port = static_cast<int>(*port);
  return out;
}

namespace {
addrinfo* resolve(const std::string& host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* result = nullptr;
  const auto service = std::to_string(port);
  if (const int status = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &result); status != 0) {
    throw JobError(fmt::format("{}:{}: cannot resolve the address: {}", host, port, ::gai_strerror(status)));
  }
  return result;
}
} // namespace

int listen_or_fail(const std::string& host, int port) {
  try {
    return listen_tcp(host, port, 128).release();
  } catch (const NetError& error) {
    throw JobError(error.what());
  }
}

int connect_tcp(const std::string& host, int port, int timeout_ms) {
  addrinfo* addresses = resolve(host, port, false);
  std::string reason = "no usable address";
  for (auto* address = addresses; address != nullptr; address = address->ai_next) {
    const int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                            address->ai_protocol);
    if (fd < 0) {
      reason = std::strerror(errno);
      continue;
    }
    int status = ::connect(fd, address->ai_addr, address->ai_addrlen);
    if (status != 0 && errno == EINPROGRESS) {
      pollfd item{fd, POLLOUT, 0};
      if (::poll(&item, 1, timeout_ms) == 1) {
        int error = 0;
        socklen_t length = sizeof(error);
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
        status = error == 0 ? 0 : -1;
        errno = error;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (status == 0) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      const int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
      ::freeaddrinfo(addresses);
      return fd;
    }
    reason = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(addresses);
  throw JobError(fmt::format("{}:{}: cannot connect: {}", host, port, reason));
}

LineStream::LineStream(int fd, std::size_t max_line) : m_fd(fd), m_max_line(max_line) {}

LineStream::~LineStream() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

LineStream::LineStream(LineStream&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)), m_max_line(other.m_max_line),
      m_buffer(std::move(other.m_buffer)), m_closed(other.m_closed) {}

LineStream& LineStream::operator=(LineStream&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = std::exchange(other.m_fd, -1);
    m_max_line = other.m_max_line;
    m_buffer = std::move(other.m_buffer);
    m_closed = other.m_closed;
  }
  return *this;
}

bool LineStream::send_line(std::string_view line, int timeout_ms) {
  std::string data(line);
  data += '\n';
  std::size_t sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (sent < data.size() && !m_closed) {
    const auto n = ::send(m_fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      pollfd item{m_fd, POLLOUT, 0};
      if (left > 0 && ::poll(&item, 1, static_cast<int>(left)) >= 0) {
        continue;
      }
    }
    m_closed = true;
  }
  return !m_closed;
}

bool LineStream::fill() {
  char chunk[65536];
  bool any = false;
  // Never more than max_line + 1 bytes held: a peer that floods (before it has authenticated,
  // say) is refused at the limit, not buffered without end.
  while (!m_closed && m_buffer.size() <= m_max_line) {
    const auto room = std::min(sizeof(chunk), m_max_line + 1 - m_buffer.size());
    const auto n = ::recv(m_fd, chunk, room, MSG_DONTWAIT);
    if (n > 0) {
      m_buffer.append(chunk, static_cast<std::size_t>(n));
      any = true;
      if (m_buffer.size() > m_max_line && m_buffer.find('\n') == std::string::npos) {
        m_closed = true; // a line longer than allowed: the peer is not speaking our protocol
      }
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      m_closed = true;
    }
    break;
  }
  return any;
}

std::optional<std::string> LineStream::next_buffered_line() {
  const auto end = m_buffer.find('\n');
  if (end == std::string::npos) {
    return std::nullopt;
  }
  std::string line = m_buffer.substr(0, end);
  m_buffer.erase(0, end + 1);
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

std::optional<std::string> LineStream::read_line(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (auto line = next_buffered_line()) {
      return line;
    }
    if (m_closed) {
      return std::nullopt;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      return std::nullopt;
    }
    pollfd item{m_fd, POLLIN, 0};
    if (::poll(&item, 1, static_cast<int>(left)) <= 0) {
      return std::nullopt;
    }
    fill();
  }
}

} // namespace brix::net
