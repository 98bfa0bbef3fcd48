#pragma once
// `brix monitor JOB_DIR --http [ADDR:]PORT`: a live dashboard in the browser. One page (inline
// CSS and script, nothing fetched from elsewhere, so it works offline and over an SSH tunnel)
// that redraws itself from a JSON route: the step-time heat map (ranks × recent steps, by node,
// stragglers marked), node health, rule states, events and throughput over time. The page's
// marks come from the snapshot (straggler, suspect, rule state), never recomputed in the page.
//
// Routes: "/" the page, "/api/snapshot" its JSON, "/metrics" the Prometheus exposition.
// Bound to a loopback address anyone on the machine may look; bound elsewhere, everything but
// /metrics needs the job token: `?token=`, `Authorization: Bearer`, or the cookie the page sets.

#include <brix/monitor/clock.hpp>
#include <brix/monitor/snapshot.hpp>
#include <brix/net/http_server.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace brix::monitor {

/// The job's pace between two snapshots.
struct ThroughputPoint {
  double time = 0;                     ///< the later snapshot's time (unix s)
  std::int64_t step = 0;               ///< its step (lowest completed by every running rank)
  double steps_per_s = 0;
  std::optional<double> tokens_per_s;  ///< when ranks report `tokens` (per step, job-wide)
};

/// Throughput over time from successive snapshots (a restart, steps going back, starts over).
class ThroughputHistory {
public:
  explicit ThroughputHistory(std::size_t capacity = 3600) : m_capacity(capacity) {}
  void add(const Snapshot& snapshot);
  [[nodiscard]] const std::deque<ThroughputPoint>& points() const { return m_points; }

private:
  std::size_t m_capacity;
  std::deque<ThroughputPoint> m_points;
  std::optional<std::pair<double, std::int64_t>> m_last; ///< time and step of the last snapshot with a step
};

/// Tokens per step as the ranks report them (`tokens`, the job's tokens per step): the largest
/// value among the ranks; nullopt when none reports it.
[[nodiscard]] std::optional<double> tokens_per_step(const Snapshot& snapshot);

/// What the page draws: {"snapshot": to_json(snapshot, now), "throughput": [[time, step,
/// steps/s, tokens/s|null], …], "now": now}.
[[nodiscard]] nlohmann::ordered_json dashboard_json(const Snapshot& snapshot, const ThroughputHistory& history, double now);

/// The page with `initial` (dashboard_json) inside, so it draws before its first refresh;
/// it refetches api/snapshot every `refresh_seconds`.
[[nodiscard]] std::string dashboard_page(const nlohmann::ordered_json& initial, double refresh_seconds);

/// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
[[nodiscard]] bool is_loopback_host(const std::string& host);

struct DashboardOptions {
  bool require_token = false; ///< bound beyond loopback
  std::string token;          ///< the job token
  double refresh_seconds = 2;
};

/// The routes, over a snapshot source; thread-safe (the view loop and the HTTP thread share it).
class Dashboard {
public:
  /// `fetch` returns the latest snapshot (the view's source); `metrics` renders /metrics.
  Dashboard(std::function<Snapshot()> fetch, std::function<std::string(const Snapshot&, double)> metrics,
            const Clock& clock, DashboardOptions options);

  /// Adds a snapshot the view loop fetched to the throughput history.
  void record(const Snapshot& snapshot);
  [[nodiscard]] net::HttpResponse handle(const net::HttpRequest& request);

private:
  [[nodiscard]] bool authorised(const net::HttpRequest& request) const;

  std::function<Snapshot()> m_fetch;
  std::function<std::string(const Snapshot&, double)> m_metrics;
  const Clock& m_clock;
  DashboardOptions m_options;
  std::mutex m_mutex;
  ThroughputHistory m_history;
};

} // namespace brix::monitor
