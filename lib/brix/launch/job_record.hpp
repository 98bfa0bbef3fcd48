#pragma once
// What `brix launch` leaves in its log directory for `brix recover JOB_DIR`:
//   JOB_DIR/launch.json            the latest attempt's world: run id, Slurm job id, nodes, ...
//   JOB_DIR/attempt_N/stop.json    why attempt N ended (the StopRecord every agent agreed on)
// Both are written atomically by one agent (node 0; for a lost node 0, node 1). Their names come
// from monitor/job_dir.hpp, like every file of the job directory.

#include <brix/launch/rendezvous.hpp>
#include <brix/launch/stop_record.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::launch {

struct JobRecord {
  std::string run_id;
  std::string slurm_job_id;          ///< empty outside Slurm
  int attempt = 0;
  int max_restarts = 0;
  std::vector<AgentInfo> nodes;      ///< by node rank
  std::string plan_path;             ///< --plan, absolute; empty without one
  std::vector<std::string> command;  ///< the worker command
  /// The agent's arguments after `launch` (its options, `--`, the command), as it was started:
  /// what a batch script passed to `brix launch`.
  std::vector<std::string> launch_args;
  double time = 0;                   ///< Unix seconds when the attempt started

  [[nodiscard]] nlohmann::json to_json() const;
  [[nodiscard]] static JobRecord from_json(const nlohmann::json& json);
};

/// This process's arguments after the word `launch` (from /proc/self/cmdline); empty when unreadable.
[[nodiscard]] std::vector<std::string> own_launch_args();

void write_job_record(const std::string& job_dir, const JobRecord& record);
/// nullopt when the file does not exist; InputError naming the file when it is malformed.
[[nodiscard]] std::optional<JobRecord> read_job_record(const std::string& job_dir);

void write_stop_record(const std::string& job_dir, int attempt, const StopRecord& record);

struct AttemptStop {
  int attempt = 0;
  StopRecord stop;
};
/// Every attempt_N/stop.json of a job directory, by attempt; malformed files are InputErrors.
[[nodiscard]] std::vector<AttemptStop> read_stop_records(const std::string& job_dir);

/// The agent that writes the records of an attempt that ended with `stop`: node 0, or node 1
/// when node 0 itself was lost.
[[nodiscard]] bool writes_job_records(int node_rank, const StopRecord& stop);

} // namespace brix::launch
