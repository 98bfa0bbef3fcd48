#pragma once
// A client of the rendezvous store. Connecting retries with exponential backoff and jitter until
// the connect deadline (the store's host may start later than this agent); a refused token is
// final. One client is used by one thread at a time.

#include <brix/net/backoff.hpp>
#include <brix/net/protocol.hpp>
#include <brix/net/socket.hpp>
#include <brix/util/clock.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace brix::net {

struct StoreClientOptions {
  std::string token;
  std::string name = "client"; ///< shown in the server's log when refused
  /// How long connect() keeps retrying before it gives up.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(60)};
  /// One connection attempt.
  std::chrono::milliseconds attempt_timeout{std::chrono::seconds(5)};
  /// A request other than WAIT must be answered within this.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  /// Delays between connection attempts: exponential with jitter, so that thousands of agents
  /// started before node 0's store do not retry in lock-step (bench-rendezvous, "late").
  Backoff backoff;
  /// Called before each wait between attempts; may throw to give up (a signal arrived).
  std::function<void()> between_attempts;
};

/// The store refused this client (wrong token): no retry helps.
class StoreRefused : public NetError {
public:
  explicit StoreRefused(const std::string& what) : NetError(what, false) {}
};

class StoreClient {
public:
  StoreClient(Connector& connector, Endpoint endpoint, StoreClientOptions options,
              util::Clock& clock = util::system_clock(),
              UniformSource uniform = default_uniform_source());

  /// Connects and presents the token; retries retryable failures with backoff.
  void connect();
  [[nodiscard]] bool connected() const { return m_stream != nullptr; }
  /// Connection attempts made by the last connect().
  [[nodiscard]] int attempts() const { return m_attempts; }
  [[nodiscard]] const Endpoint& endpoint() const { return m_endpoint; }

  void set(const std::string& key, const std::string& value);
  /// The value, or nullopt when the key does not exist (does not wait).
  [[nodiscard]] std::optional<std::string> get(const std::string& key);
  /// Waits until every key exists; false when `timeout` passes first.
  [[nodiscard]] bool wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout);
  /// wait() then get(); throws NetError naming the key on timeout.
  [[nodiscard]] std::string wait_get(const std::string& key, std::chrono::milliseconds timeout);
  /// Adds `delta` to an integer key (missing = 0); the new value.
  std::int64_t add(const std::string& key, std::int64_t delta);
  struct CompareSetResult {
    std::string value; ///< the value after the operation
    bool swapped = false;
  };
  /// Sets `desired` if the current value is `expected` (a missing key equals "").
  CompareSetResult compare_set(const std::string& key, const std::string& expected,
                               const std::string& desired);
  /// The values of `keys` in order, in one round trip; nullopt when one of them does not exist.
  [[nodiscard]] std::optional<std::vector<std::string>> get_many(const std::vector<std::string>& keys);
  /// The keys of `keys` that do not exist.
  [[nodiscard]] std::vector<std::string> missing(const std::vector<std::string>& keys);
  bool remove(const std::string& key);

private:
  Message call(Message request, std::chrono::milliseconds timeout);

  Connector& m_connector;
  Endpoint m_endpoint;
  StoreClientOptions m_options;
  util::Clock& m_clock;
  UniformSource m_uniform;
  std::unique_ptr<Stream> m_stream;
  std::string m_input;
  int m_attempts = 0;
};

} // namespace brix::net
