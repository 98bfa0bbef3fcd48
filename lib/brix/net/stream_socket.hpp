#pragma once
// Small TCP helpers shared by brix's servers and clients: listening (127.0.0.1 unless told
// otherwise), connecting with a timeout, and reading/writing newline-terminated lines.

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

/// A non-blocking listening socket on `host:port` (port 0 picks a free one). Throws JobError, naming the
/// address, when it is in use or cannot be bound.
[[nodiscard]] int listen_on(const std::string& host, int port, int backlog = 128);
/// The port a bound socket listens on.
[[nodiscard]] int local_port(int fd);
/// Connects within `timeout_ms`; throws JobError naming host:port and the reason.
[[nodiscard]] int connect_tcp(const std::string& host, int port, int timeout_ms);
/// "1.2.3.4:5678" for a connected socket.
[[nodiscard]] std::string peer_name(int fd);

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
  /// Reads what is available without blocking; true if anything arrived.
  bool fill();
  /// A complete buffered line, if any (no reading).
  [[nodiscard]] std::optional<std::string> next_buffered_line();
  [[nodiscard]] bool closed() const { return m_closed; }
  [[nodiscard]] int fd() const { return m_fd; }

private:
  int m_fd = -1;
  std::size_t m_max_line;
  std::string m_buffer;
  bool m_closed = false;
};

} // namespace brix::net
