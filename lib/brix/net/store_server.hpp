#pragma once
// The rendezvous store over TCP: one thread, one epoll loop, non-blocking sockets, so a single
// node-0 agent serves thousands of agents and workers. Logic lives in StoreCore.

#include <brix/net/socket.hpp>
#include <brix/net/store_core.hpp>
#include <brix/util/wakeup.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace brix::net {

struct StoreServerOptions {
  std::string address; ///< address to listen on ("" = every interface)
  int port = 0;        ///< 0 = any free port (tests)
  std::string token;   ///< the job token clients must present
  LogSink log;         ///< refused clients and protocol errors
  int backlog = 4096;
};

class StoreServer {
public:
  /// Binds and listens at once (a port in use throws NetError here); serve() starts the thread.
  explicit StoreServer(StoreServerOptions options);
  ~StoreServer();
  StoreServer(const StoreServer&) = delete;
  StoreServer& operator=(const StoreServer&) = delete;

  void serve();
  void stop();
  [[nodiscard]] int port() const { return m_port; }
  /// Clients refused so far (wrong or missing token, malformed frames).
  [[nodiscard]] std::size_t refused() const { return m_refused.load(); }

private:
  void loop();

  StoreServerOptions m_options;
  Fd m_listener;
  util::Wakeup m_wake;
  int m_port = 0;
  std::atomic<bool> m_stopping{false};
  std::atomic<std::size_t> m_refused{0};
  std::thread m_thread;
};

} // namespace brix::net
