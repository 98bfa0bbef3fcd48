#pragma once
// The job's monitoring state at one moment: what `brix monitor --once` prints, what the
// endpoint writes to JOB_DIR/monitor/snapshot.json and serves to viewers, and what the
// Prometheus exposition is rendered from. Ages are derived from absolute times by the reader,
// so a snapshot read later still shows how stale it is.

#include <brix/monitor/event_log.hpp>
#include <brix/monitor/gpu_stats.hpp>
#include <brix/plan/measured.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace brix::monitor {

/// running: reporting; stale: no report within the heartbeat timeout; exited: process gone;
/// waiting: known to the collector but not reported yet.
namespace rank_state {
inline constexpr std::string_view running = "running";
inline constexpr std::string_view stale = "stale";
inline constexpr std::string_view exited = "exited";
inline constexpr std::string_view waiting = "waiting";
} // namespace rank_state
[[nodiscard]] std::vector<std::string> rank_state_names();

/// One of a rank's recent steps, for the dashboard's heat map.
struct RecentStep {
  std::int64_t step = 0;
  double seconds = 0;        ///< wall time
  double scored_seconds = 0; ///< what straggler scoring used: compute time where reported, else wall
};

struct RankView {
  int rank = 0;
  std::string node;
  int pid = 0;
  std::optional<int> stage;
  std::string state{rank_state::waiting};
  std::int64_t step = -1;
  std::optional<double> step_seconds;
  std::optional<double> compute_seconds;
  double last_report = 0; ///< unix s, on the endpoint's clock
  std::optional<double> cpu_percent;
  std::optional<std::uint64_t> rss_bytes;
  double cpu_seconds = 0;
  double peer_ratio = 1.0;
  double history_ratio = 1.0;
  bool straggler = false;
  std::string straggler_reason;
  std::vector<std::pair<std::string, double>> values;
  std::vector<RecentStep> recent; ///< the last steps, oldest first (JobMonitorOptions::recent_steps)
};

struct NodeView {
  std::string node;
  double last_sample = 0; ///< unix s, on the endpoint's clock
  bool gpu_available = false;
  std::string gpu_reason;
  std::vector<GpuFigures> gpus;
  bool suspect = false;
  std::string suspect_reason;
  std::uint64_t rejected_lines = 0;
  std::string last_rejection;
};

struct RuleView {
  std::string rule;
  std::string metric;
  std::string subject; ///< "rank 3 on node1", "node1 gpu 0"
  std::string node;
  std::optional<int> rank;
  std::optional<int> gpu;
  std::string state;
  double value = 0;
  double since = 0;
};

/// Measured per pipeline stage over the recent steps (see measured.hpp for the file).
/// One pipeline stage's pace, as `brix plan --measured` reads it.
using StageView = plan::MeasuredStage;

struct Snapshot {
  std::string job;
  double time = 0;     ///< when it was taken
  double started = 0;  ///< when monitoring started
  int world_size = 0;
  std::int64_t step = -1;          ///< the lowest last step among running ranks
  double step_median_seconds = 0;  ///< median over ranks of the last scored step
  std::optional<double> periodic_slowdown_seconds;
  std::string periodic_slowdown_node;
  std::vector<NodeView> nodes;
  std::vector<RankView> ranks;
  std::vector<RuleView> rules;
  std::vector<StageView> stages;
  std::vector<Event> events;       ///< the most recent, oldest first
  std::map<std::string, std::uint64_t> event_counts; ///< by type, since monitoring started
};

/// The document (ages computed at `now`).
[[nodiscard]] nlohmann::ordered_json to_json(const Snapshot& snapshot, double now);
/// Throws InputError (naming `source`) on a malformed document.
[[nodiscard]] Snapshot snapshot_from_json(const nlohmann::json& document, const std::string& source);

/// The stages' measured pace, for `brix plan --measured`.
[[nodiscard]] plan::MeasuredStages measured_stages(const Snapshot& snapshot);
/// Writes measured_stages(snapshot) atomically; JobError when no stage was measured.
void write_measured_stages(const std::string& path, const Snapshot& snapshot);

/// Reads a snapshot file; InputError when missing or malformed.
[[nodiscard]] Snapshot read_snapshot_file(const std::string& path);

} // namespace brix::monitor
