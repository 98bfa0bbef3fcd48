#pragma once
// Monitoring as `brix launch` runs it: node 0's agent hosts the job's endpoint, every agent runs
// a node collector whose socket the workers get in BRIX_MONITOR_SOCKET, and the launcher's own
// events (exits, restarts) go to the same event log. Real clock, /proc and NVML.

#include <brix/monitor/clock.hpp>
#include <brix/monitor/collector_agent.hpp>
#include <brix/monitor/endpoint.hpp>
#include <brix/monitor/gpu_stats.hpp>
#include <brix/monitor/process_stats.hpp>

#include <memory>
#include <string>

namespace brix::monitor {

/// Starts the job's endpoint on `host` (a free port) with the bundled rules, serving on a
/// background thread; `job_dir` receives events.jsonl and monitor/. Throws JobError.
[[nodiscard]] std::unique_ptr<MonitorEndpoint> start_job_endpoint(const std::string& job_dir,
                                                                  const std::string& host,
                                                                  const std::string& token,
                                                                  const std::string& job);

/// A node collector on a background thread, for the life of the object.
class NodeMonitoring {
public:
  /// Throws JobError when the socket cannot be bound.
  NodeMonitoring(std::string node, std::string socket_path, net::HostPort endpoint, std::string token);
  ~NodeMonitoring();
  NodeMonitoring(const NodeMonitoring&) = delete;
  NodeMonitoring& operator=(const NodeMonitoring&) = delete;

  /// The path for BRIX_MONITOR_SOCKET.
  [[nodiscard]] const std::string& socket_path() const { return m_agent->socket_path(); }
  /// A worker the launcher started.
  void expect_rank(int rank, int pid) { m_agent->expect_rank(rank, pid); }

private:
  SystemClock m_clock;
  ProcProcessStats m_processes;
  std::unique_ptr<GpuSource> m_gpus;
  std::unique_ptr<CollectorAgent> m_agent;
};

/// The launcher restarting every worker after `failed_rank` failed.
[[nodiscard]] Event make_restart_event(double time, std::string node, int failed_rank, int attempt,
                                       int max_restarts);

} // namespace brix::monitor
