#include <brix/monitor/node_monitoring.hpp>

#include <brix/monitor/rules.hpp>

#include <fmt/format.h>

namespace brix::monitor {

std::unique_ptr<MonitorEndpoint> start_job_endpoint(const std::string& job_dir, const std::string& host,
                                                    const std::string& token, const std::string& job) {
  static const SystemClock clock; // outlives every endpoint
  EndpointOptions options;
  options.job_dir = job_dir;
  options.host = host;
  options.token = token;
  options.monitor.job = job;
  options.monitor.rules = default_rules();
  auto endpoint = std::make_unique<MonitorEndpoint>(std::move(options), clock);
  endpoint->start();
  return endpoint;
}

NodeMonitoring::NodeMonitoring(std::string node, std::string socket_path, net::HostPort endpoint,
                               std::string token)
    : m_gpus(open_nvml()) {
  CollectorAgentOptions options;
  options.node = std::move(node);
  options.socket_path = std::move(socket_path);
  options.endpoint = std::move(endpoint);
  options.token = std::move(token);
  m_agent = std::make_unique<CollectorAgent>(std::move(options), m_processes, *m_gpus, m_clock);
  m_agent->start();
}

NodeMonitoring::~NodeMonitoring() { m_agent->stop(); }

Event make_restart_event(double time, std::string node, int failed_rank, int attempt, int max_restarts) {
  Event event{time, std::string(event_type::restart), std::move(node), failed_rank,
              fmt::format("restarting every worker after rank {} failed: restart {} of {}", failed_rank,
                          attempt + 1, max_restarts)};
  event.details["attempt"] = attempt + 1;
  event.details["max_restarts"] = max_restarts;
  return event;
}

} // namespace brix::monitor
