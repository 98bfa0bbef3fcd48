#pragma once
// The real action sink: events to JOB_DIR/events.jsonl, hooks as `/bin/sh -c` children (never
// waited for on the monitor's thread), suspects to JOB_DIR/suspect-nodes.json for recover:
//   {"brix_suspect_nodes": 1, "nodes": [{"node": "n3", "reason": "...", "time": 1.7e9}]}

#include <brix/monitor/event_log.hpp>
#include <brix/monitor/job_monitor.hpp>

#include <string>
#include <vector>

namespace brix::monitor {

struct SuspectNode {
  std::string node;
  std::string reason;
  double time = 0;
};

/// The suspect list (empty when the file does not exist); InputError when malformed.
[[nodiscard]] std::vector<SuspectNode> read_suspect_nodes(const std::string& job_dir);

class JobDirActions final : public ActionSink {
public:
  /// Hooks beyond this many still running are skipped (and the skip is logged).
  static constexpr int k_max_running_hooks = 8;

  explicit JobDirActions(std::string job_dir);
  ~JobDirActions() override;

  void event(const Event& event) override;
  void hook(const std::string& command,
            const std::vector<std::pair<std::string, std::string>>& environment) override;
  void suspect(const std::string& node, const std::string& reason, double time) override;
  /// Collects finished hooks; call now and then.
  void reap();

private:
  std::string m_job_dir;
  EventLog m_log;
  std::vector<SuspectNode> m_suspects;
  std::vector<int> m_hooks; ///< running hook pids
};

} // namespace brix::monitor
