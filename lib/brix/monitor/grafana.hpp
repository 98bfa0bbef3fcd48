#pragma once
// `brix monitor grafana`: a Grafana dashboard (the current JSON model, schemaVersion 39) for what
// /metrics exports — step time per rank, stragglers, throughput, node health, GPU figures under
// dcgm-exporter's names, rule states and events. The data source is a variable, so the file
// imports as is. Every query names families of metric_families() (prometheus.hpp): naming one
// the exposition does not have is a logic error caught when the dashboard is built.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace brix::monitor {

[[nodiscard]] nlohmann::ordered_json grafana_dashboard();

/// Every PromQL expression of the dashboard's panels, in panel order (for checks and tests).
[[nodiscard]] std::vector<std::string> grafana_queries(const nlohmann::ordered_json& dashboard);

/// The metric names a PromQL expression reads (identifiers followed by '{', '[', ')' or an
/// operator that are metric families; functions and label names excluded).
[[nodiscard]] std::vector<std::string> metric_names_in(const std::string& expression);

} // namespace brix::monitor
