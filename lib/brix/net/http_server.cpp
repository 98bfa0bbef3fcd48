#include <brix/net/http_server.hpp>

#include <brix/net/socket.hpp>
#include <brix/net/stream_socket.hpp>
#include <brix/util/strings.hpp>

#include <cctype>
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
  case 401:
    return "Unauthorized";
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

std::optional<HttpRequest> parse_request_head(std::string_view head) {
  const auto lines = util::split(head, '\n');
  HttpRequest request;
  if (lines.empty() || !parse_request_line(lines.front(), request.method, request.path)) {
    return std::nullopt;
  }
  const auto target = util::split(util::trim(lines.front()), ' ')[1];
  if (const auto mark = target.find('?'); mark != std::string::npos) {
    request.query = target.substr(mark + 1);
  }
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto line = util::trim(lines[i]);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    request.headers.emplace_back(util::to_lower(line.substr(0, colon)), std::string(util::trim(line.substr(colon + 1))));
  }
  return request;
}

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

std::optional<std::string> HttpRequest::query_value(std::string_view name) const {
  for (const auto& pair : util::split(query, '&')) {
    const auto equals = pair.find('=');
    if (pair.substr(0, equals) != name) {
      continue;
    }
    const std::string raw = equals == std::string::npos ? "" : pair.substr(equals + 1);
    std::string value;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
      if (raw[i] == '%' && i + 2 < raw.size() && hex(raw[i + 1]) && hex(raw[i + 2])) {
        value += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        value += raw[i] == '+' ? ' ' : raw[i];
      }
    }
    return value;
  }
  return std::nullopt;
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
  const auto request = parse_request_head(head);
  HttpResponse response;
  if (!request) {
    response = {400, "text/plain; charset=utf-8", "bad request\n"};
  } else if (request->method != "GET" && request->method != "HEAD") {
    response = {405, "text/plain; charset=utf-8", "only GET and HEAD\n"};
  } else {
    try {
      response = m_handler(*request);
    } catch (const std::exception& error) {
      response = {500, "text/plain; charset=utf-8", fmt::format("{}\n", error.what())};
    }
  }
  std::string extra;
  for (const auto& [name, value] : response.headers) {
    extra += fmt::format("{}: {}\r\n", name, value);
  }
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}Connection: close\r\n\r\n",
                                response.status, reason_phrase(response.status), response.content_type,
                                response.body.size(), response.status == 405 ? "Allow: GET, HEAD\r\n" : "", extra);
  if (!request || request->method != "HEAD") {
    out += response.body;
  }
  send_all(fd, out);
}

} // namespace brix::net
