#pragma once
// A minimal HTTP/1.1 server for metrics endpoints: GET and HEAD, one response per connection
// (Connection: close). One thread serves every client through one poll(2) loop on non-blocking
// sockets, so a client that connects and sends nothing, or reads its answer slowly, holds only
// its own connection: request heads up to 16 KiB, 5 s to send one, 10 s for the whole exchange,
// at most 512 connections (the oldest is dropped for a new one). Binds 127.0.0.1 unless given
// another address.

#include <brix/net/socket.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace brix::net {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers; ///< extra response headers
};

/// What a handler sees of a request.
struct HttpRequest {
  std::string method;
  std::string path;  ///< without the query string
  std::string query; ///< after '?', as sent (not decoded)
  std::vector<std::pair<std::string, std::string>> headers; ///< names lower-cased, values trimmed

  /// The first header called `name` (lower case), or "".
  [[nodiscard]] std::string header(std::string_view name) const;
  /// The percent-decoded value of query parameter `name` ("a=1&b=2"), nullopt when absent.
  [[nodiscard]] std::optional<std::string> query_value(std::string_view name) const;
};

/// Called for every GET or HEAD request; runs on the server's thread, so it should answer
/// quickly (it renders a snapshot).
using HttpHandler = std::function<HttpResponse(const HttpRequest& request)>;

/// Limits on each client, public for tests.
struct HttpLimits {
  std::size_t max_head_bytes = 16 * 1024;
  std::chrono::milliseconds head_timeout{5000};     ///< from accept to the end of the head
  std::chrono::milliseconds exchange_timeout{10000}; ///< from accept to the last byte sent
  std::size_t max_clients = 512;
};

/// "GET /metrics HTTP/1.1" -> method and path; false when the line is not a request line.
[[nodiscard]] bool parse_request_line(std::string_view line, std::string& method, std::string& path);
/// A request head (request line and header lines); nullopt when the request line is malformed.
[[nodiscard]] std::optional<HttpRequest> parse_request_head(std::string_view head);

class HttpServer {
public:
  /// Binds now (JobError when the port is taken); serving starts with start().
  HttpServer(const std::string& host, int port, HttpHandler handler, HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] int port() const { return m_port; }
  void start();
  void stop();
  /// Connections open right now (accepted, not yet answered and closed).
  [[nodiscard]] std::size_t clients() const { return m_clients.load(); }

private:
  void run();

  HttpHandler m_handler;
  HttpLimits m_limits;
  int m_listen_fd = -1;
  int m_port = 0;
  Fd m_wake_read;
  Fd m_wake_write;
  std::atomic<bool> m_stop{false};
  std::atomic<std::size_t> m_clients{0};
  std::thread m_thread;
};

} // namespace brix::net
