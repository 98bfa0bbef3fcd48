#pragma once
// The job's monitor endpoint (hosted by node 0's agent, or `brix monitor serve`): accepts node
// collectors and viewers over TCP (wire.hpp), feeds the JobMonitor, and every interval writes
// JOB_DIR/monitor/snapshot.json (atomically) with the recent events of JOB_DIR/events.jsonl.
// JOB_DIR/monitor/endpoint holds "host:port" so that tools can find it.

#include <brix/monitor/clock.hpp>
#include <brix/monitor/job_dir_actions.hpp>
#include <brix/monitor/job_monitor.hpp>
#include <brix/monitor/snapshot_text.hpp>
#include <brix/net/poller.hpp>
#include <brix/net/stream_socket.hpp>
#include <brix/util/wakeup.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

namespace brix::monitor {

struct EndpointOptions {
  std::string job_dir;
  std::string host = "127.0.0.1";
  int port = 0;              ///< 0 picks a free port
  std::string token;
  double interval = 1.0;     ///< seconds between snapshots
  int recent_events = 20;    ///< events kept in the snapshot
  JobMonitorOptions monitor;
};

class MonitorEndpoint {
public:
  /// Binds the port and creates JOB_DIR/monitor; throws JobError when it cannot.
  MonitorEndpoint(EndpointOptions options, const Clock& clock);
  ~MonitorEndpoint();
  MonitorEndpoint(const MonitorEndpoint&) = delete;
  MonitorEndpoint& operator=(const MonitorEndpoint&) = delete;

  [[nodiscard]] int port() const { return m_port; }
  /// Serves until `stop` becomes true (in the calling thread).
  void run(const std::atomic<bool>& stop);
  /// Serves on a background thread until stop() or destruction.
  void start();
  void stop();
  /// The current snapshot, with recent events (thread-compatible with run()'s thread only).
  [[nodiscard]] Snapshot snapshot();

private:
  struct Client;
  void accept_clients(net::Poller& poller);
  void serve_client(Client& client);
  /// Writes JOB_DIR/monitor/snapshot.json; the seconds it took.
  double write_snapshot();
  /// Drops closed clients and those that did not say hello within 10 s.
  void drop_clients(double now);

  EndpointOptions m_options;
  const Clock& m_clock;
  JobDirActions m_actions;
  JobMonitor m_monitor;
  int m_listen_fd = -1;
  int m_port = 0;
  std::unordered_map<std::uint64_t, std::unique_ptr<Client>> m_clients; ///< by poller tag
  std::uint64_t m_next_client = 2;
  std::deque<Event> m_recent;
  SnapshotTextCache m_rows;
  std::uint64_t m_log_offset = 0;
  std::atomic<bool> m_stop{false};
  util::Wakeup m_wake; ///< stop() ends the loop's wait at once
  std::thread m_thread;
};

} // namespace brix::monitor
