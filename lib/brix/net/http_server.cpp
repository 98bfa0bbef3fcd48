#include <brix/net/http_server.hpp>

#include <brix/net/socket.hpp>
#include <brix/net/stream_socket.hpp>
#include <brix/util/strings.hpp>

#include <chrono>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace brix::net {

namespace {
constexpr std::size_t k_max_head = 16 * 1024;

std::string_view reason_phrase(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 500:
    return "Internal Server Error";
  default:
    return "Unknown";
  }
}

void send_all(int fd, std::string_view data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const auto n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    sent += static_cast<std::size_t>(n);
  }
}
} // namespace

bool parse_request_line(std::string_view line, std::string& method, std::string& path) {
  const auto words = util::split(util::trim(line), ' ');
  if (words.size() != 3 || !util::starts_with(words[2], "HTTP/1.") || words[1].empty() || words[1][0] != '/') {
    return false;
  }
  method = words[0];
  path = words[1].substr(0, words[1].find('?'));
  return true;
}

HttpServer::HttpServer(const std::string& host, int port, HttpHandler handler)
    : m_handler(std::move(handler)), m_listen_fd(listen_or_fail(host, port)), m_port(bound_port(m_listen_fd)) {}

HttpServer::~HttpServer() {
  stop();
  ::close(m_listen_fd);
}

void HttpServer::start() {
  m_stop = false;
  m_thread = std::thread([this] { run(); });
}

void HttpServer::stop() {
  m_stop = true;
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void HttpServer::run() {
  while (!m_stop) {
    pollfd item{m_listen_fd, POLLIN, 0};
    if (::poll(&item, 1, 200) <= 0) {
      continue;
    }
    const int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      serve(fd);
      ::close(fd);
    }
  }
}

void HttpServer::serve(int fd) {
  // Scrapers send small heads; one slow client may hold the server for at most 5 s.
  std::string head;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    pollfd item{fd, POLLIN, 0};
    if (left <= 0 || head.size() > k_max_head || ::poll(&item, 1, static_cast<int>(left)) <= 0) {
      return;
    }
    char chunk[4096];
    const auto n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      return;
    }
    head.append(chunk, static_cast<std::size_t>(n));
  }
  std::string method;
  std::string path;
  HttpResponse response;
  if (!parse_request_line(head.substr(0, head.find('\n')), method, path)) {
    response = {400, "text/plain; charset=utf-8", "bad request\n"};
  } else if (method != "GET" && method != "HEAD") {
    response = {405, "text/plain; charset=utf-8", "only GET and HEAD\n"};
  } else {
    try {
      response = m_handler(path);
    } catch (const std::exception& error) {
      response = {500, "text/plain; charset=utf-8", fmt::format("{}\n", error.what())};
    }
  }
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
                                response.status, reason_phrase(response.status), response.content_type,
                                response.body.size(), response.status == 405 ? "Allow: GET, HEAD\r\n" : "");
  if (method != "HEAD") {
    out += response.body;
  }
  send_all(fd, out);
}

} // namespace brix::net
