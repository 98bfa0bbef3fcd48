#include <brix/net/socket.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace brix::net {
namespace {

int remaining_ms(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<long long>(left.count(), 0, 1'000'000'000));
}

/// Waits for `events` on `fd` until `deadline`; false on timeout.
bool wait_for(int fd, short events, Deadline deadline) {
  while (true) {
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, remaining_ms(deadline));
    if (ready > 0) {
      return true;
    }
    if (ready == 0) {
      return false;
    }
    if (errno != EINTR) {
      throw NetError(fmt::format("poll: {}", std::strerror(errno)), true);
    }
  }
}

std::string address_text(const sockaddr* address) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return fmt::format("{}:{}", host, port);
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return fmt::format("[{}]:{}", host, port);
  }
  return "?";
}

class TcpStream final : public Stream {
public:
  TcpStream(Fd fd, std::string name) : m_fd(std::move(fd)), m_name(std::move(name)) {}

  void write_all(std::string_view bytes, Deadline deadline) override {
    while (!bytes.empty()) {
      const auto sent = ::send(m_fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(sent));
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!wait_for(m_fd.get(), POLLOUT, deadline)) {
          throw NetError(fmt::format("timed out sending to {}", m_name), true);
        }
      } else if (sent < 0 && errno != EINTR) {
        throw NetError(fmt::format("sending to {}: {}", m_name, std::strerror(errno)), true);
      }
    }
  }

  std::size_t read_some(char* buffer, std::size_t size, Deadline deadline) override {
    while (true) {
      const auto got = ::recv(m_fd.get(), buffer, size, 0);
      if (got >= 0) {
        return static_cast<std::size_t>(got);
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!wait_for(m_fd.get(), POLLIN, deadline)) {
          throw NetError(fmt::format("timed out waiting for {}", m_name), true);
        }
      } else if (errno != EINTR) {
        throw NetError(fmt::format("receiving from {}: {}", m_name, std::strerror(errno)), true);
      }
    }
  }

private:
  Fd m_fd;
  std::string m_name;
};

addrinfo* resolve(const std::string& host, int port, int flags) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  addrinfo* result = nullptr;
  const auto service = std::to_string(port);
  const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints,
                               &result);
  if (rc != 0) {
    // A name that does not resolve will not resolve on retry either (EAI_AGAIN aside).
    throw NetError(fmt::format("cannot resolve '{}': {}", host, ::gai_strerror(rc)),
                   rc == EAI_AGAIN);
  }
  return result;
}

/// A non-blocking, close-on-exec socket for `info`; invalid (and `error` set) on failure.
Fd open_socket(const addrinfo* info, std::string& error) {
  Fd fd(::socket(info->ai_family, info->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                 info->ai_protocol));
  if (!fd.valid()) {
    error = std::strerror(errno);
  }
  return fd;
}

} // namespace

std::string Endpoint::text() const {
  if (host.find(':') != std::string::npos) {
    return fmt::format("[{}]:{}", host, port);
  }
  return fmt::format("{}:{}", host, port);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    reset(other.release());
  }
  return *this;
}

Fd::~Fd() { reset(); }

void Fd::reset(int fd) {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  m_fd = fd;
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

std::unique_ptr<Stream> TcpConnector::connect(const Endpoint& endpoint,
                                              std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  addrinfo* list = resolve(endpoint.host, endpoint.port, 0);
  std::string last_error = "no address";
  for (auto* info = list; info != nullptr; info = info->ai_next) {
    Fd fd = open_socket(info, last_error);
    if (!fd.valid()) {
      continue;
    }
    int rc = ::connect(fd.get(), info->ai_addr, info->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      if (!wait_for(fd.get(), POLLOUT, deadline)) {
        last_error = "connection timed out";
        continue;
      }
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
      rc = error == 0 ? 0 : -1;
      errno = error;
    }
    if (rc != 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::freeaddrinfo(list);
    return std::make_unique<TcpStream>(std::move(fd), endpoint.text());
  }
  ::freeaddrinfo(list);
  throw NetError(fmt::format("cannot connect to {}: {}", endpoint.text(), last_error), true);
}

Fd listen_tcp(const std::string& address, int port, int backlog) {
  addrinfo* list = resolve(address, port, AI_PASSIVE);
  std::string last_error = "no address";
  for (auto* info = list; info != nullptr; info = info->ai_next) {
    Fd fd = open_socket(info, last_error);
    if (!fd.valid()) {
      continue;
    }
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), info->ai_addr, info->ai_addrlen) != 0) {
      const int error = errno;
      ::freeaddrinfo(list);
      if (error == EADDRINUSE) {
        throw NetError(fmt::format("port {} on {} is already in use", port,
                                   address.empty() ? "*" : address),
                       true);
      }
      throw NetError(fmt::format("cannot bind {}:{}: {}", address.empty() ? "*" : address, port,
                                 std::strerror(error)),
                     false);
    }
    if (::listen(fd.get(), backlog) != 0) {
      last_error = std::strerror(errno);
      continue;
    }
    ::freeaddrinfo(list);
    return fd;
  }
  ::freeaddrinfo(list);
  throw NetError(fmt::format("cannot listen on {}:{}: {}", address, port, last_error), false);
}

int bound_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

std::string peer_text(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return "?";
  }
  return address_text(reinterpret_cast<sockaddr*>(&address));
}

void raise_open_file_limit() {
  // Enough for thousands of agents and their workers; not the hard limit itself (often 2^20),
  // which workers would inherit and some programs loop over when closing descriptors.
  constexpr rlim_t k_wanted = 1u << 16;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, std::max<rlim_t>(limit.rlim_cur, k_wanted));
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

} // namespace brix::net
