#pragma once
// Line-oriented TCP for brix's small servers and clients (the monitor endpoint, /metrics):
// "[ADDR:]PORT" arguments, connecting with a timeout, reading and writing newline-terminated
// lines on a plain descriptor. Listening and peer names come from net/socket.hpp.

#include <optional>
#include <string>
#include <string_view>

namespace brix::net {

struct HostPort {
  std::string host;
  int port = 0;
};

/// "[ADDR:]PORT" (ADDR defaults to `default_host`) or "HOST:PORT"; "[::1]:9000" for IPv6.
/// `what` names the option in the InputError.
[[nodiscard]] HostPort parse_host_port(std::string_view text, std::string_view default_host,
                                       std::string_view what);

/// A listening socket for a brix server (net::listen_tcp); JobError naming the address when it
/// is in use or cannot be bound.
[[nodiscard]] int listen_or_fail(const std::string& host, int port);
/// Connects within `timeout_ms`; throws JobError naming host:port and the reason.
[[nodiscard]] int connect_tcp(const std::string& host, int port, int timeout_ms);

/// A connected socket read and written as lines; owns (closes) the descriptor.
class LineStream {
public:
  explicit LineStream(int fd, std::size_t max_line = 64 << 20);
  ~LineStream();
  LineStream(LineStream&& other) noexcept;
  LineStream& operator=(LineStream&& other) noexcept;
  LineStream(const LineStream&) = delete;
  LineStream& operator=(const LineStream&) = delete;

  /// Writes `line` plus '\n' (blocking, bounded by `timeout_ms`); false when the peer is gone.
  bool send_line(std::string_view line, int timeout_ms = 5000);
  /// The next complete line without '\n'; nullopt on timeout or when closed (see closed()).
  [[nodiscard]] std::optional<std::string> read_line(int timeout_ms);
  /// Reads what is available without blocking, holding at most max_line + 1 bytes: the rest
  /// stays in the socket until the buffered lines are taken. A line longer than max_line closes
  /// the stream (the peer is not speaking a line protocol). True if anything arrived.
  bool fill();
  /// A complete buffered line, if any (no reading).
  [[nodiscard]] std::optional<std::string> next_buffered_line();
  [[nodiscard]] bool closed() const { return m_closed; }
  [[nodiscard]] int fd() const { return m_fd; }
  /// Bytes read but not yet taken as lines.
  [[nodiscard]] std::size_t buffered() const { return m_buffer.size(); }
  /// A new line limit: a server raises it once a peer has authenticated.
  void set_max_line(std::size_t max_line) { m_max_line = max_line; }

private:
  int m_fd = -1;
  std::size_t m_max_line;
  std::string m_buffer;
  bool m_closed = false;
};

} // namespace brix::net
