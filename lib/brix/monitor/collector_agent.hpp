#pragma once
// Runs a NodeCollector for real (hosted by each node's agent, or `brix monitor collect`): binds
// the node's report socket, samples every interval and forwards the samples to the job's
// monitor endpoint, reconnecting with backoff and jitter when the endpoint is away. Samples
// that could not be sent are kept (a bounded number) and sent after reconnecting.

#include <brix/monitor/clock.hpp>
#include <brix/monitor/collector.hpp>
#include <brix/net/stream_socket.hpp>
#include <brix/util/wakeup.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace brix::monitor {

class DatagramReceiver;

struct CollectorAgentOptions {
  std::string node;          ///< this node's name (hostname by default in the CLI)
  std::string socket_path;   ///< where ranks send reports (BRIX_MONITOR_SOCKET)
  net::HostPort endpoint;
  std::string token;
  double interval = 1.0;     ///< seconds between samples
  int max_unsent = 60;       ///< samples kept while the endpoint is unreachable
};

class CollectorAgent {
public:
  /// Binds the report socket; throws JobError when it cannot.
  CollectorAgent(CollectorAgentOptions options, const ProcessStats& processes, GpuSource& gpus,
                 const Clock& clock);
  ~CollectorAgent();

  /// A rank the launcher started (thread-safe).
  void expect_rank(int rank, int pid);
  /// Runs until `stop` becomes true (in the calling thread).
  void run(const std::atomic<bool>& stop);
  void start();
  void stop();

  [[nodiscard]] const std::string& socket_path() const { return m_options.socket_path; }
  /// Samples sent so far (for tests and the agent's log).
  [[nodiscard]] std::uint64_t sent() const { return m_sent; }
  /// The last connection error ("" while connected).
  [[nodiscard]] std::string last_error() const;

private:
  void forward(NodeSample sample);

  CollectorAgentOptions m_options;
  NodeCollector m_collector;
  std::unique_ptr<DatagramReceiver> m_receiver;
  std::mutex m_mutex;
  std::unique_ptr<net::LineStream> m_connection;
  std::deque<std::string> m_unsent;
  double m_next_attempt = 0;
  double m_backoff = 0.5;
  const Clock& m_clock;
  std::atomic<std::uint64_t> m_sent{0};
  std::string m_last_error;
  mutable std::mutex m_error_mutex;
  std::atomic<bool> m_stop{false};
  util::Wakeup m_wake; ///< stop() ends the loop's wait at once
  std::thread m_thread;
};

} // namespace brix::monitor
