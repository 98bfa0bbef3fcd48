#pragma once
// TCP sockets behind a small interface: the store client talks to a Connector/Stream, which is a
// real TCP connection in production and an in-memory pipe to a StoreCore in unit tests.

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace brix::net {

using Deadline = std::chrono::steady_clock::time_point;

struct Endpoint {
  std::string host; ///< name or numeric address
  int port = 0;
  [[nodiscard]] std::string text() const; ///< "host:port", IPv6 in brackets
};

/// A network failure. `retryable` for the failures a later attempt may not see (refused, timed
/// out, unreachable while a peer starts), not for bad names or refused tokens.
class NetError : public std::runtime_error {
public:
  NetError(const std::string& what, bool retryable)
      : std::runtime_error(what), m_retryable(retryable) {}
  [[nodiscard]] bool retryable() const { return m_retryable; }

private:
  bool m_retryable;
};

/// An owned file descriptor.
class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  [[nodiscard]] int get() const { return m_fd; }
  [[nodiscard]] bool valid() const { return m_fd >= 0; }
  int release() { return std::exchange(m_fd, -1); }
  void reset(int fd = -1);

private:
  int m_fd = -1;
};

/// A connected byte stream.
class Stream {
public:
  virtual ~Stream() = default;
  /// Throws NetError on failure or when `deadline` passes.
  virtual void write_all(std::string_view bytes, Deadline deadline) = 0;
  /// Reads what is available (blocking until something is); 0 means the peer closed.
  virtual std::size_t read_some(char* buffer, std::size_t size, Deadline deadline) = 0;
};

class Connector {
public:
  virtual ~Connector() = default;
  [[nodiscard]] virtual std::unique_ptr<Stream> connect(const Endpoint& endpoint,
                                                        std::chrono::milliseconds timeout) = 0;
};

/// Real TCP (IPv4 and IPv6 via getaddrinfo), TCP_NODELAY.
class TcpConnector final : public Connector {
public:
  [[nodiscard]] std::unique_ptr<Stream> connect(const Endpoint& endpoint,
                                                std::chrono::milliseconds timeout) override;
};

/// A listening socket on `address` (numeric or name; "" = every interface), port 0 = any free
/// port. A port in use is a NetError naming it. Non-blocking, SO_REUSEADDR, close-on-exec.
[[nodiscard]] Fd listen_tcp(const std::string& address, int port, int backlog);
/// The local port a socket is bound to.
[[nodiscard]] int bound_port(int fd);
/// "address:port" of the peer of a connected socket.
[[nodiscard]] std::string peer_text(int fd);
void set_nonblocking(int fd);
/// Raises the soft open-files limit to the hard limit (a store serves thousands of clients).
void raise_open_file_limit();

} // namespace brix::net
