#pragma once
// The rendezvous store's logic without sockets: bytes in per connection, bytes out per
// connection. The poll loop in store_server.cpp only moves bytes; unit tests drive this directly.

#include <brix/net/protocol.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace brix::net {

using ConnectionId = std::uint64_t;
using TimePoint = std::chrono::steady_clock::time_point;
/// Receives one line per notable event (refused clients, protocol errors).
using LogSink = std::function<void(std::string_view line)>;

class StoreCore {
public:
  /// Clients must open with Op::hello carrying `token`; the others are refused and logged.
  StoreCore(std::string token, LogSink log);

  void open(ConnectionId id, std::string peer);
  void close(ConnectionId id);
  /// Feeds received bytes and serves every complete request (in order; a pending WAIT holds
  /// back the requests behind it).
  void receive(ConnectionId id, std::string_view bytes, TimePoint now);
  /// Answers the WAITs whose deadline has passed with Status::timeout.
  void expire(TimePoint now);
  [[nodiscard]] std::optional<TimePoint> next_deadline() const;

  /// Bytes to send to `id`, removed from its queue.
  [[nodiscard]] std::string take_output(ConnectionId id);
  [[nodiscard]] bool has_output(ConnectionId id) const;
  /// Whether the connection should be closed once its output is flushed.
  [[nodiscard]] bool closing(ConnectionId id) const;
  /// Whether the server should read more from `id`: not once it is closing, nor while it is
  /// parked on a WAIT with k_read_ahead_bytes of requests already queued behind it. Otherwise
  /// serve() leaves at most one incomplete frame buffered, so a connection holds at most one
  /// frame (k_max_hello_bytes before the token) plus one read.
  [[nodiscard]] bool wants_input(ConnectionId id) const;
  static constexpr std::size_t k_read_ahead_bytes = 64u << 10;

  /// Connections with output or closing since the last call (so the server need not scan all).
  [[nodiscard]] std::vector<ConnectionId> take_dirty();

  [[nodiscard]] std::size_t connections() const { return m_connections.size(); }
  [[nodiscard]] std::size_t keys() const { return m_data.size(); }
  [[nodiscard]] std::size_t refused() const { return m_refused; }
  /// Request bytes held for incomplete frames, over all connections.
  [[nodiscard]] std::size_t buffered_bytes() const;

private:
  struct Wait {
    std::vector<std::string> keys;
    std::multimap<TimePoint, ConnectionId>::iterator deadline;
  };
  struct Connection {
    ConnectionId id = 0;
    std::string peer;
    std::string input;
    std::string output;
    bool authenticated = false;
    bool closing = false;
    std::optional<Wait> wait;
  };

  void serve(ConnectionId id, TimePoint now);
  void handle(ConnectionId id, Connection& connection, Message request, TimePoint now);
  void reply(Connection& connection, Status status, std::int64_t number = 0,
             std::vector<std::string> fields = {});
  void refuse(Connection& connection, Status status, std::string why);
  void store(const std::string& key, std::string value, TimePoint now);
  /// First key of `keys` that does not exist, or nullptr.
  [[nodiscard]] const std::string* first_missing(const std::vector<std::string>& keys) const;
  void finish_wait(ConnectionId id, Connection& connection, Status status);

  std::string m_token;
  LogSink m_log;
  std::unordered_map<std::string, std::string> m_data;
  std::unordered_map<ConnectionId, Connection> m_connections;
  /// key -> connections whose WAIT is blocked on that key (registered under one missing key).
  std::unordered_map<std::string, std::vector<ConnectionId>> m_waiters;
  std::multimap<TimePoint, ConnectionId> m_deadlines;
  std::vector<ConnectionId> m_dirty;
  std::size_t m_refused = 0;
};

} // namespace brix::net
