#pragma once
// The progress line protocol between a training process and its node's collector. Any program
// can speak it without brix (see man/brix-monitor.1, "REPORTING PROGRESS"):
//
//   rank=3 step=120 time=0.412 compute=0.371 loss=2.31 tokens=524288
//
// One report per line (a datagram may carry several lines), fields `key=value` separated by
// spaces. `rank` is the global rank; `step` the step just finished; `time` its wall seconds;
// `compute` the seconds spent before waiting in the gradient collective (a synchronous
// all-reduce makes every rank's wall time equal, so stragglers show in compute time); `stage`
// the pipeline stage. Every other key is a named number (loss, grad_norm, grad_variance, ...).
// A line without `step` is a heartbeat.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brix::monitor {

/// The environment variable that holds the collector's socket path.
inline constexpr const char* k_socket_env = "BRIX_MONITOR_SOCKET";
/// Longest accepted line, in bytes.
inline constexpr std::size_t k_max_report_bytes = 4096;

struct ProgressReport {
  int rank = -1;
  std::optional<std::int64_t> step;
  std::optional<double> step_seconds;
  std::optional<double> compute_seconds;
  std::optional<int> stage;
  std::vector<std::pair<std::string, double>> values; ///< other named numbers, in line order

  [[nodiscard]] bool is_heartbeat() const { return !step.has_value(); }
};

/// The line for a report (no trailing newline).
[[nodiscard]] std::string format_report(const ProgressReport& report);

/// A parsed line, or the reason it was rejected.
struct ParsedReport {
  std::optional<ProgressReport> report;
  std::string error;
};

/// Parses one line. Never throws: a bad line from a worker must not stop the collector.
[[nodiscard]] ParsedReport parse_report(std::string_view line);

/// Whether `name` may be a value's key: [A-Za-z_][A-Za-z0-9_.]{0,63}.
[[nodiscard]] bool is_valid_key(std::string_view name);

} // namespace brix::monitor
