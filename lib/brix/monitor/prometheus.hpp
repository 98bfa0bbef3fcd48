#pragma once
// The Prometheus text exposition (format 0.0.4) of a snapshot. brix_* names for the job's own
// figures; GPU figures under their dcgm-exporter names and labels (gpu, UUID, device,
// modelName, Hostname) so that existing dashboards work. Every series carries `brix_job`
// (not `job`, which Prometheus reserves for the scrape target). Names: man brix-monitor.

#include <brix/monitor/snapshot.hpp>

#include <span>
#include <string>
#include <string_view>

namespace brix::monitor {

inline constexpr std::string_view k_prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// One metric family of the exposition.
struct MetricFamily {
  std::string_view name;
  std::string_view type; ///< "gauge" or "counter"
  std::string_view help;
};
/// Every family the exposition can hold, in the order it writes them (those without samples
/// are left out of a given exposition).
[[nodiscard]] std::span<const MetricFamily> metric_families();

/// The exposition text; ages are computed at `now`.
[[nodiscard]] std::string render_prometheus(const Snapshot& snapshot, double now);

/// Escapes a label value: backslash, double quote and newline.
[[nodiscard]] std::string escape_label_value(std::string_view value);

/// Writes DIR/brix_<job>.prom atomically (node_exporter's textfile collector reads *.prom);
/// returns the path written.
std::string write_textfile(const std::string& dir, const std::string& job, const std::string& text);

} // namespace brix::monitor
