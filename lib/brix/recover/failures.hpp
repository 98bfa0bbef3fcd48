#pragma once
// What went wrong in a job: failures read back from what launch and monitor left in JOB_DIR
// (events.jsonl, attempt_N/stop.json, suspect-nodes.json), first failure first. Pure functions
// over parsed records, plus one reader of the directory.

#include <brix/launch/job_record.hpp>
#include <brix/monitor/event_log.hpp>
#include <brix/monitor/job_dir_actions.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::recover {

enum class FailureKind {
  exited,         ///< a worker exited with a non-zero code (usually the program, not the node)
  killed,         ///< a worker died of a signal
  node_lost,      ///< an agent stopped answering: node down or agent killed
  heartbeat_lost, ///< the monitor stopped hearing from a rank
  stopped,        ///< an agent received TERM/INT/HUP (scancel, time limit, preemption)
  node_failed,    ///< Slurm ended the job NODE_FAIL and marked this node unusable
};

[[nodiscard]] std::string to_string(FailureKind kind);

struct Failure {
  FailureKind kind = FailureKind::exited;
  double time = 0;          ///< Unix seconds
  int attempt = -1;         ///< launch attempt, -1 when unknown
  std::string node;         ///< empty when unknown
  std::optional<int> rank;  ///< global rank
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string source;       ///< "attempt_0/stop.json", "events.jsonl"
  std::string message;

  /// "rank 3 on n2 killed by SIGKILL", "node n2 lost (its agent stopped answering)".
  [[nodiscard]] std::string describe() const;
  [[nodiscard]] nlohmann::ordered_json to_json() const;
};

/// Merges the launcher's stop records and the event log into one list sorted by time (first
/// failure first). An exit event that repeats a stop record (same rank, within a second) is
/// dropped; attempts that ended `done` are no failures.
[[nodiscard]] std::vector<Failure> collect_failures(const std::vector<launch::AttemptStop>& stops,
                                                    const std::vector<monitor::Event>& events);

/// Suspects from suspect-nodes.json and `suspect` events, one per node (the earliest reason).
[[nodiscard]] std::vector<monitor::SuspectNode>
collect_suspects(const std::vector<monitor::SuspectNode>& listed, const std::vector<monitor::Event>& events);

/// Everything recover reads from a job directory.
struct JobDir {
  std::string path;
  std::optional<launch::JobRecord> launch; ///< launch.json, when brix launch wrote one
  std::vector<launch::AttemptStop> stops;
  std::vector<Failure> failures;           ///< first failure first
  std::vector<monitor::SuspectNode> suspects;
  /// The last attempt ended with every worker exiting 0.
  [[nodiscard]] bool completed() const;
};

/// Reads JOB_DIR. A directory that does not exist, or holds neither launch.json, stop records nor
/// an event log, is an InputError (it is not a brix job directory).
[[nodiscard]] JobDir read_job_dir(const std::string& path);

} // namespace brix::recover
