#include <brix/net/store_server.hpp>

#include <cerrno>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace brix::net {

StoreServer::StoreServer(StoreServerOptions options) : m_options(std::move(options)) {
  raise_open_file_limit();
  m_listener = listen_tcp(m_options.address, m_options.port, m_options.backlog);
  m_port = bound_port(m_listener.get());
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw NetError("pipe2 failed", false);
  }
  m_wake_read.reset(fds[0]);
  m_wake_write.reset(fds[1]);
}

StoreServer::~StoreServer() { stop(); }

void StoreServer::serve() {
  m_thread = std::thread([this] { loop(); });
}

void StoreServer::stop() {
  m_stopping = true;
  if (m_wake_write.valid()) {
    const char byte = 1;
    [[maybe_unused]] const auto ignored = ::write(m_wake_write.get(), &byte, 1);
  }
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void StoreServer::loop() {
  StoreCore core(m_options.token, m_options.log);
  std::map<ConnectionId, Fd> sockets;
  ConnectionId next_id = 1;
  std::vector<pollfd> polled;
  std::vector<ConnectionId> polled_ids;
  std::vector<char> buffer(1 << 16);

  auto drop = [&](ConnectionId id) {
    core.close(id);
    sockets.erase(id);
  };
  // Sends what can be sent now; the rest waits for POLLOUT.
  std::map<ConnectionId, std::string> pending;
  auto flush = [&](ConnectionId id) {
    auto& out = pending[id];
    out += core.take_output(id);
    while (!out.empty()) {
      const auto sent = ::send(sockets.at(id).get(), out.data(), out.size(), MSG_NOSIGNAL);
      if (sent > 0) {
        out.erase(0, static_cast<std::size_t>(sent));
      } else if (sent < 0 && errno == EINTR) {
        continue;
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      } else {
        pending.erase(id);
        drop(id);
        return;
      }
    }
    pending.erase(id);
    if (core.closing(id)) {
      drop(id);
    }
  };

  while (!m_stopping) {
    polled.clear();
    polled_ids.clear();
    polled.push_back({m_wake_read.get(), POLLIN, 0});
    polled.push_back({m_listener.get(), POLLIN, 0});
    for (const auto& [id, fd] : sockets) {
      const bool writing = pending.contains(id);
      polled.push_back({fd.get(), static_cast<short>(writing ? POLLOUT : POLLIN), 0});
      polled_ids.push_back(id);
    }
    int timeout_ms = -1;
    if (const auto deadline = core.next_deadline()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            *deadline - std::chrono::steady_clock::now())
                            .count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left + 1, 0, 60'000));
    }
    const int ready = ::poll(polled.data(), polled.size(), timeout_ms);
    const auto now = std::chrono::steady_clock::now();
    if (ready < 0 && errno != EINTR) {
      break;
    }
    if (polled[1].revents & POLLIN) {
      while (true) {
        const int client = ::accept4(m_listener.get(), nullptr, nullptr,
                                     SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (client < 0) {
          break; // EAGAIN, or out of descriptors: the backlog holds them until next round
        }
        const auto id = next_id++;
        sockets.emplace(id, Fd(client));
        core.open(id, peer_text(client));
      }
    }
    for (std::size_t i = 2; i < polled.size(); ++i) {
      const auto id = polled_ids[i - 2];
      const auto events = polled[i].revents;
      if (events == 0 || !sockets.contains(id)) {
        continue;
      }
      if (events & POLLOUT) {
        flush(id);
        continue;
      }
      const auto got = ::recv(polled[i].fd, buffer.data(), buffer.size(), 0);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        pending.erase(id);
        drop(id);
        continue;
      }
      if (got > 0) {
        core.receive(id, std::string_view(buffer.data(), static_cast<std::size_t>(got)), now);
      }
    }
    core.expire(now);
    // A request on one connection may release WAITs on many: flush every connection that
    // got output (the core lists them, so this does not scan thousands of idle clients).
    for (const auto id : core.take_dirty()) {
      if (!sockets.contains(id)) {
        continue;
      }
      if (pending.contains(id)) {
        pending[id] += core.take_output(id);
      } else {
        flush(id);
      }
    }
    m_refused = core.refused();
  }
}

} // namespace brix::net
