// The store's event loop: epoll over the listener, a Wakeup and every client. Bytes go to
// StoreCore and its replies go out at once; what the kernel does not take waits for EPOLLOUT.
#include <brix/net/store_server.hpp>

#include <brix/net/poller.hpp>

#include <algorithm>
#include <cerrno>
#include <sys/socket.h>
#include <unordered_map>
#include <vector>

namespace brix::net {
namespace {

constexpr std::uint64_t k_wake_tag = 0;
constexpr std::uint64_t k_listener_tag = 1;

} // namespace

StoreServer::StoreServer(StoreServerOptions options) : m_options(std::move(options)) {
  raise_open_file_limit();
  m_listener = listen_tcp(m_options.address, m_options.port, m_options.backlog);
  m_port = bound_port(m_listener.get());
}

StoreServer::~StoreServer() { stop(); }

void StoreServer::serve() {
  m_thread = std::thread([this] { loop(); });
}

void StoreServer::stop() {
  m_stopping = true;
  m_wake.notify();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void StoreServer::loop() {
  StoreCore core(m_options.token, m_options.log);
  Poller poller;
  poller.add(m_wake.fd(), k_wake_tag);
  poller.add(m_listener.get(), k_listener_tag);
  bool accepting = true;

  struct Connection {
    Fd fd;
    std::string pending; ///< reply bytes the kernel has not taken yet
    Poller::Interest interest;
  };
  std::unordered_map<ConnectionId, Connection> connections;
  ConnectionId next_id = k_listener_tag + 1;
  std::vector<char> buffer(1 << 16);

  auto drop = [&](ConnectionId id) {
    core.close(id);
    connections.erase(id); // closing the socket also takes it out of the epoll set
    if (!accepting) {
      accepting = true; // a descriptor is free again
      poller.modify(m_listener.get(), k_listener_tag, {});
    }
  };
  // Reads while nothing waits to be sent and the core wants input: a client that does not read
  // its replies, or queues requests behind a WAIT, is not read further, so what node 0 holds per
  // connection stays bounded (one request frame, one reply).
  auto update_interest = [&](ConnectionId id, Connection& connection) {
    const bool writing = !connection.pending.empty();
    const Poller::Interest wanted{!writing && core.wants_input(id), writing};
    if (wanted.readable != connection.interest.readable || wanted.writable != connection.interest.writable) {
      poller.modify(connection.fd.get(), id, wanted);
      connection.interest = wanted;
    }
  };
  auto flush = [&](ConnectionId id) {
    const auto found = connections.find(id);
    if (found == connections.end()) {
      return;
    }
    auto& connection = found->second;
    if (connection.pending.empty()) {
      connection.pending = core.take_output(id);
    } else {
      connection.pending += core.take_output(id);
    }
    std::size_t sent_total = 0;
    while (sent_total < connection.pending.size()) {
      const auto sent = ::send(connection.fd.get(), connection.pending.data() + sent_total,
                               connection.pending.size() - sent_total, MSG_NOSIGNAL);
      if (sent > 0) {
        sent_total += static_cast<std::size_t>(sent);
      } else if (sent < 0 && errno == EINTR) {
        continue;
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        drop(id);
        return;
      }
    }
    if (sent_total == connection.pending.size()) {
      std::string().swap(connection.pending); // a large reply's buffer is not kept per client
      if (core.closing(id)) {
        drop(id);
        return;
      }
    } else {
      connection.pending.erase(0, sent_total);
    }
    update_interest(id, connection);
  };
  auto accept_clients = [&] {
    while (true) {
      const int client = ::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (client < 0) {
        if (errno == EMFILE || errno == ENFILE) {
          // Out of descriptors: the backlog holds the rest until a connection closes.
          accepting = false;
          poller.modify(m_listener.get(), k_listener_tag, {false, false});
        }
        return;
      }
      const auto id = next_id++;
      poller.add(client, id);
      connections.emplace(id, Connection{Fd(client), {}, {}});
      core.open(id, peer_text(client));
    }
  };

  while (!m_stopping) {
    int timeout_ms = -1;
    if (const auto deadline = core.next_deadline()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            *deadline - std::chrono::steady_clock::now())
                            .count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left + 1, 0, 60'000));
    }
    std::span<const Poller::Ready> ready;
    try {
      ready = poller.wait(timeout_ms);
    } catch (const NetError& e) {
      if (m_options.log) {
        m_options.log(e.what());
      }
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    for (const auto& event : ready) {
      if (event.tag == k_wake_tag) {
        (void)m_wake.clear();
        continue;
      }
      if (event.tag == k_listener_tag) {
        accept_clients();
        continue;
      }
      const auto id = event.tag;
      if (event.writable) {
        flush(id);
      }
      const auto found = connections.find(id);
      if (!event.readable || found == connections.end()) {
        continue;
      }
      const auto got = ::recv(found->second.fd.get(), buffer.data(), buffer.size(), 0);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(id);
        continue;
      }
      if (got > 0) {
        core.receive(id, std::string_view(buffer.data(), static_cast<std::size_t>(got)), now);
        flush(id);
      }
    }
    core.expire(now);
    // A request on one connection may release WAITs on many: flush every connection that got
    // output (the core lists them, so this does not scan thousands of idle clients).
    for (const auto id : core.take_dirty()) {
      flush(id);
    }
    m_refused = core.refused();
  }
}

} // namespace brix::net
