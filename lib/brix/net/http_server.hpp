#pragma once
// A minimal HTTP/1.1 server for metrics endpoints: GET and HEAD, one response per connection
// (Connection: close), request heads up to 16 KiB, served on a background thread. Binds
// 127.0.0.1 unless given another address.

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace brix::net {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

/// Called with the request path (query string removed); runs on the server's thread.
using HttpHandler = std::function<HttpResponse(std::string_view path)>;

/// "GET /metrics HTTP/1.1" -> method and path; false when the line is not a request line.
[[nodiscard]] bool parse_request_line(std::string_view line, std::string& method, std::string& path);

class HttpServer {
public:
  /// Binds now (JobError when the port is taken); serving starts with start().
  HttpServer(const std::string& host, int port, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] int port() const { return m_port; }
  void start();
  void stop();

private:
  void run();
  void serve(int fd);

  HttpHandler m_handler;
  int m_listen_fd = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

} // namespace brix::net
