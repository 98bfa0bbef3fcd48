#pragma once
// The job's monitor: node samples in; rank and node state, stragglers, change points, rule
// states and events out. Pure apart from the injected clock and action sink, so the whole
// pipeline is unit-tested with fake ranks; endpoint.hpp feeds it from the network.

#include <brix/monitor/change_point.hpp>
#include <brix/monitor/clock.hpp>
#include <brix/monitor/event_log.hpp>
#include <brix/monitor/node_sample.hpp>
#include <brix/monitor/rules.hpp>
#include <brix/monitor/snapshot.hpp>
#include <brix/monitor/straggler.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace brix::monitor {

/// Where the monitor's actions go: the event log, hook commands, the suspect list.
class ActionSink {
public:
  virtual ~ActionSink() = default;
  virtual void event(const Event& event) = 0;
  /// Runs `command` with extra environment variables; must not block the monitor.
  virtual void hook(const std::string& command,
                    const std::vector<std::pair<std::string, std::string>>& environment) = 0;
  /// Records `node` as suspect for `brix recover`.
  virtual void suspect(const std::string& node, const std::string& reason, double time) = 0;
};

struct JobMonitorOptions {
  std::string job;
  int world_size = 0;             ///< 0: the number of ranks seen
  double heartbeat_timeout = 30;  ///< seconds without a report before a rank is stale
  StragglerOptions straggler;
  ChangePointOptions change_point;
  std::vector<Rule> rules;
  int stage_window = 200;         ///< steps kept for per-stage medians
  int recent_steps = 32;          ///< steps of each rank kept in the snapshot (the dashboard's heat map)
};

class JobMonitor {
public:
  JobMonitor(JobMonitorOptions options, const Clock& clock, ActionSink& sink);

  void ingest(const NodeSample& sample);
  /// Time-driven checks (heartbeats); ingest() calls it too.
  void tick();
  [[nodiscard]] Snapshot snapshot() const;

private:
  void on_step(const StepRecord& record, const std::string& node);
  void observe(const Subject& subject, const std::string& metric, double value, double now);
  void emit(Event event);
  void mark_suspect(const std::string& node, const std::string& reason, double now);
  /// The workers restarted (steps went back): step statistics start over.
  void restart_step_statistics();

  JobMonitorOptions m_options;
  const Clock& m_clock;
  ActionSink& m_sink;
  double m_started = 0;
  std::map<int, RankView> m_ranks;
  std::map<std::string, NodeView> m_nodes;
  StragglerDetector m_stragglers;
  std::map<int, ChangePointDetector> m_change_points;
  std::map<int, std::vector<double>> m_slowdowns; ///< per rank, times of up-shifts
  std::optional<double> m_period;
  std::string m_period_node;
  RuleEngine m_rules;
  struct StageStep {
    double compute = 0; ///< slowest compute time among the stage's ranks
    double wall = 0;    ///< slowest step time
    int ranks = 0;      ///< ranks of the stage that reported this step
  };
  std::map<int, std::map<std::int64_t, StageStep>> m_stage_steps; ///< stage -> step -> times
  std::map<std::string, std::uint64_t> m_event_counts;
  std::map<int, std::int64_t> m_last_step; ///< per rank, to notice a restart (steps going back)
};

} // namespace brix::monitor
