#pragma once
// Slurm as recover sees it: node states and a job's record from `scontrol show ... -o`, and the
// commands that relaunch. Every call goes through a CommandRunner so unit tests feed recorded
// output; parsing is pure.

#include <brix/util/run_command.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::recover {

struct Failure;

/// Runs argv (argv[0] on PATH) and returns its exit code and standard output.
using CommandRunner = std::function<util::CommandResult(const std::vector<std::string>& argv)>;

/// The real runner: util::run_command with a 30 s limit per command.
[[nodiscard]] CommandRunner system_runner();

/// One record of `scontrol show <entity> -o`: `Key=Value` pairs on one line. A value may hold
/// spaces (`Reason=Not responding [slurm@...]`, `Command=/x.sh a b`): a word without `=`, or one
/// whose key does not look like a Slurm key, continues the previous value.
[[nodiscard]] std::map<std::string, std::string> parse_scontrol_record(std::string_view line);

struct SlurmNode {
  std::string name;
  std::vector<std::string> states; ///< State= split on '+': {"IDLE", "DRAIN"}, {"DOWN", "NOT_RESPONDING"}
  std::string reason;              ///< Reason=, without the [user@time] suffix
  [[nodiscard]] std::string state() const; ///< joined with '+'
};

/// Every node of `scontrol show node -o` (one line each).
[[nodiscard]] std::vector<SlurmNode> parse_scontrol_nodes(std::string_view text);

/// Nodes from `sinfo -h -N -o '%N %t'`: compact states such as idle, alloc, down*, drain, drng.
/// A trailing `*` (not responding) becomes NOT_RESPONDING; duplicates (one line per partition)
/// are merged.
[[nodiscard]] std::vector<SlurmNode> parse_sinfo_nodes(std::string_view text);

/// Why Slurm will not run work on this node (DOWN, DRAIN, FAIL, NOT_RESPONDING, ...); nullopt
/// when it can.
[[nodiscard]] std::optional<std::string> unusable_reason(const SlurmNode& node);

/// The node list: `scontrol show node -o`, else `sinfo`. nullopt when neither runs (no Slurm).
[[nodiscard]] std::optional<std::vector<SlurmNode>> query_nodes(const CommandRunner& run);

struct SlurmJob {
  std::string id;
  std::string name;
  std::string state;       ///< JobState: RUNNING, PENDING, FAILED, NODE_FAIL, ...
  std::string command;     ///< Command=: the batch script (and its arguments)
  std::string work_dir;
  std::string std_out;
  std::string partition;
  std::string node_list;   ///< NodeList= of the last run
  std::string excluded;    ///< ExcNodeList=
  double end_time = 0;     ///< EndTime= as Unix seconds (0 when unknown)
  int num_nodes = 0;
  int restarts = 0;
  bool batch = true;
  bool requeue = false;
};

[[nodiscard]] SlurmJob parse_scontrol_job(std::string_view line);
/// `scontrol show job -o ID`; nullopt when Slurm no longer knows the job (past MinJobAge).
[[nodiscard]] std::optional<SlurmJob> query_job(const CommandRunner& run, const std::string& id);

/// Failures Slurm saw: for a job that ended NODE_FAIL, one per node of its NodeList that is now
/// unusable.
[[nodiscard]] std::vector<Failure> slurm_failures(const SlurmJob& job, const std::vector<SlurmNode>& nodes);

/// A job Slurm still holds to run again (PENDING after a requeue, REQUEUED, REQUEUE_HOLD, ...).
[[nodiscard]] bool waiting_to_run(const SlurmJob& job);

/// "Submitted batch job 42" -> "42".
[[nodiscard]] std::optional<std::string> parse_submitted_job_id(std::string_view output);

} // namespace brix::recover
