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
#include <tuple>
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
  bool operator==(const RecentStep&) const = default;
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
  bool operator==(const RankView&) const = default;
};

/// What a group of ranks (one node's, one stage's, the whole job's) adds up to: at 16,384 ranks
/// the views show these and the worst ranks instead of every row.
struct RankSummary {
  int ranks = 0;
  int running = 0;
  int stale = 0;
  int exited = 0;
  int waiting = 0;
  int stragglers = 0;
  std::int64_t min_step = -1; ///< lowest and highest last step among ranks that reported one
  std::int64_t max_step = -1;
  std::optional<double> max_step_seconds;
  std::optional<double> max_compute_seconds;
  int worst_rank = -1;          ///< the first of the group in worst-first order (worse_rank)
  double max_peer_ratio = 0;
  double oldest_report = 0;     ///< unix s: the least recent report (0: none yet)
  double cpu_percent = 0;       ///< summed over the group's ranks (100 = one core)
  std::uint64_t rss_bytes = 0;  ///< summed
  void add(const RankView& rank);

private:
  std::tuple<int, double, int> m_worst_key{-1, 0.0, 0}; ///< rank_badness of worst_rank
};

/// Worst first: exited, stale, stragglers, then by time against peers (higher first), then rank.
[[nodiscard]] bool worse_rank(const RankView& a, const RankView& b);
/// The key worse_rank compares (greater is worse).
[[nodiscard]] std::tuple<int, double, int> rank_badness(const RankView& rank);
/// 0 for a healthy rank, higher for worse (the first key of worse_rank).
[[nodiscard]] int rank_severity(const RankView& rank);

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
  RankSummary ranks; ///< this node's ranks
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

/// One pipeline stage's ranks, summed up.
struct StageRanks {
  int stage = 0;
  RankSummary ranks;
};

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
  RankSummary rank_summary;            ///< every rank
  std::vector<StageRanks> stage_ranks; ///< by stage, for ranks that report one
  std::vector<Event> events;       ///< the most recent, oldest first
  std::map<std::string, std::uint64_t> event_counts; ///< by type, since monitoring started
};

/// Fills the node, stage and job summaries from `ranks` (replacing what they held).
void summarise(Snapshot& snapshot);

/// The document (ages computed at `now`). With `max_ranks` > 0 and more ranks than that, "ranks"
/// lists only the worst `max_ranks`, worst first, and "rules" only those not normal; with
/// `max_nodes` > 0 and more nodes than that, "nodes" lists only the worst `max_nodes`.
/// "rank_summary", "node_summary" and "rule_summary" say how many they list of how many.
[[nodiscard]] nlohmann::ordered_json to_json(const Snapshot& snapshot, double now, int max_ranks = 0,
                                             int max_nodes = 0);
/// The ranks to list: all in rank order, or the worst `max_ranks` (> 0) worst first.
[[nodiscard]] std::vector<const RankView*> listed_ranks(const Snapshot& snapshot, int max_ranks);
/// The nodes to list: all in their order, or the worst `max_nodes` (> 0) worst first — suspect
/// nodes, then those with exited or stale ranks, then stragglers, then the oldest heartbeat.
[[nodiscard]] std::vector<const NodeView*> listed_nodes(const Snapshot& snapshot, int max_nodes, double now);
/// Throws InputError (naming `source`) on a malformed document.
[[nodiscard]] Snapshot snapshot_from_json(const nlohmann::json& document, const std::string& source);

/// The stages' measured pace, for `brix plan --measured`.
[[nodiscard]] plan::MeasuredStages measured_stages(const Snapshot& snapshot);
/// Writes measured_stages(snapshot) atomically; JobError when no stage was measured.
void write_measured_stages(const std::string& path, const Snapshot& snapshot);

/// Reads a snapshot file; InputError when missing or malformed.
[[nodiscard]] Snapshot read_snapshot_file(const std::string& path);

} // namespace brix::monitor
