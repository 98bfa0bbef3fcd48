// The metrics HTTP server (http_server.hpp): one poll loop, a small state per connection.
#include <brix/net/http_server.hpp>

#include <brix/net/stream_socket.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <fmt/format.h>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace brix::net {

namespace {

using Clock = std::chrono::steady_clock;

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
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  default:
    return "Unknown";
  }
}

/// One connection: the request head coming in, then the response going out.
struct Client {
  Fd fd;
  Clock::time_point accepted;
  std::string head;
  std::optional<std::string> response; ///< set once the head is complete (or refused)
  std::size_t sent = 0;
};

bool head_complete(const std::string& head) {
  return head.find("\r\n\r\n") != std::string::npos || head.find("\n\n") != std::string::npos;
}

std::string render(const HttpResponse& response, bool with_body) {
  std::string extra;
  for (const auto& [name, value] : response.headers) {
    extra += fmt::format("{}: {}\r\n", name, value);
  }
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}Connection: close\r\n\r\n",
                                response.status, reason_phrase(response.status), response.content_type,
                                response.body.size(), response.status == 405 ? "Allow: GET, HEAD\r\n" : "", extra);
  if (with_body) {
    out += response.body;
  }
  return out;
}

/// The response to a complete head.
std::string answer(const std::string& head, const HttpHandler& handler) {
  const auto request = parse_request_head(head);
  if (!request) {
    return render({400, "text/plain; charset=utf-8", "bad request\n"}, true);
  }
  if (request->method != "GET" && request->method != "HEAD") {
    return render({405, "text/plain; charset=utf-8", "only GET and HEAD\n"}, true);
  }
  HttpResponse response;
  try {
    response = handler(*request);
  } catch (const std::exception& error) {
    response = {500, "text/plain; charset=utf-8", fmt::format("{}\n", error.what())};
  }
  return render(response, request->method != "HEAD");
}

/// Reads what `client` sent; false when it closed or failed. Completes its response when the
/// head is complete or too large.
bool receive(Client& client, const HttpLimits& limits, const HttpHandler& handler) {
  char chunk[4096];
  while (!client.response) {
    const auto n = ::recv(client.fd.get(), chunk, sizeof(chunk), 0);
    if (n == 0) {
      return false;
    }
    if (n < 0) {
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
    client.head.append(chunk, static_cast<std::size_t>(n));
    if (head_complete(client.head)) {
      client.response = answer(client.head, handler);
    } else if (client.head.size() > limits.max_head_bytes) {
      client.response = render({431, "text/plain; charset=utf-8",
                                fmt::format("request head larger than {} bytes\n", limits.max_head_bytes)},
                               true);
    }
  }
  client.head.clear();
  client.head.shrink_to_fit();
  return true;
}

/// Sends what the socket takes; false when it failed. Done when sent == response size.
bool transmit(Client& client) {
  const auto& out = *client.response;
  while (client.sent < out.size()) {
    const auto n = ::send(client.fd.get(), out.data() + client.sent, out.size() - client.sent, MSG_NOSIGNAL);
    if (n < 0) {
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
    client.sent += static_cast<std::size_t>(n);
  }
  return true;
}

Clock::time_point deadline(const Client& client, const HttpLimits& limits) {
  return client.accepted + (client.response ? limits.exchange_timeout : limits.head_timeout);
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

HttpServer::HttpServer(const std::string& host, int port, HttpHandler handler, HttpLimits limits)
    : m_handler(std::move(handler)), m_limits(limits), m_listen_fd(listen_or_fail(host, port)),
      m_port(bound_port(m_listen_fd)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(m_listen_fd);
    throw JobError("pipe2 failed for the HTTP server");
  }
  m_wake_read.reset(fds[0]);
  m_wake_write.reset(fds[1]);
}

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
  const char byte = 1;
  [[maybe_unused]] const auto ignored = ::write(m_wake_write.get(), &byte, 1);
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void HttpServer::run() {
  std::vector<Client> clients;
  std::vector<pollfd> polled;
  while (!m_stop) {
    polled.clear();
    polled.push_back({m_listen_fd, POLLIN, 0});
    polled.push_back({m_wake_read.get(), POLLIN, 0});
    auto wake = Clock::now() + std::chrono::seconds(1);
    for (const auto& client : clients) {
      polled.push_back({client.fd.get(), static_cast<short>(client.response ? POLLOUT : POLLIN), 0});
      wake = std::min(wake, deadline(client, m_limits));
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now()).count();
    if (::poll(polled.data(), polled.size(), static_cast<int>(std::max<std::int64_t>(0, wait))) < 0 && errno != EINTR) {
      break;
    }
    const auto now = Clock::now();
    // Serve the connections polled (new ones are appended after them below).
    std::vector<Client> kept;
    kept.reserve(clients.size() + 1);
    for (std::size_t i = 0; i < clients.size(); ++i) {
      auto& client = clients[i];
      const auto events = polled[i + 2].revents;
      bool alive = true;
      if (events & (POLLIN | POLLHUP | POLLERR)) {
        alive = client.response ? !(events & (POLLHUP | POLLERR)) : receive(client, m_limits, m_handler);
      }
      if (alive && client.response && (events & POLLOUT || client.sent == 0)) {
        alive = transmit(client);
      }
      const bool done = client.response && client.sent == client.response->size();
      if (alive && !done && now < deadline(client, m_limits)) {
        kept.push_back(std::move(client));
      }
    }
    clients = std::move(kept);
    if (polled[1].revents & POLLIN) {
      char drain[64];
      while (::read(m_wake_read.get(), drain, sizeof(drain)) > 0) {
      }
    }
    if (polled[0].revents & POLLIN) {
      while (true) {
        const int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
          break;
        }
        if (clients.size() >= m_limits.max_clients) {
          // Full: the oldest connection gives way, so idle clients cannot lock scrapers out.
          clients.erase(clients.begin());
        }
        clients.push_back(Client{Fd(fd), now, {}, std::nullopt, 0});
      }
    }
    m_clients = clients.size();
  }
  m_clients = 0;
}

} // namespace brix::net
