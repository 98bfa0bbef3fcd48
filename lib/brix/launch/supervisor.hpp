#pragma once
// One attempt on one node: start the local workers, watch them, forward signals, and stop them
// all when the attempt ends for any reason (a local failure, a failure elsewhere, a signal, or
// success everywhere), with a grace period before SIGKILL.

#include <brix/launch/job_channel.hpp>
#include <brix/launch/process.hpp>
#include <brix/launch/stop_record.hpp>
#include <brix/util/clock.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::launch {

struct SupervisorOptions {
  std::string node;
  int node_rank = 0;
  /// From the first stop signal (forwarded or sent by the agent) to SIGKILL.
  std::chrono::milliseconds grace{std::chrono::seconds(30)};
  std::chrono::milliseconds monitor_interval{std::chrono::milliseconds(250)};
  std::vector<int> no_restart_exit_codes;
  std::size_t stderr_tail_lines = 20;
};

struct WorkerOutcome {
  int rank = 0;
  int local_rank = 0;
  int pid = 0;
  ExitStatus status;
  double exited_at = 0; ///< Unix seconds
};

struct AttemptResult {
  StopRecord stop;                    ///< the record in force for this attempt
  std::vector<WorkerOutcome> workers; ///< local workers, by local rank
  int received_signal = 0;            ///< TERM/INT/HUP received by this agent, else 0
  bool killed_after_grace = false;    ///< some worker needed SIGKILL
};

/// Called for each started worker (the agent attaches its log pump to the pipes).
using SpawnHook = std::function<void(const WorkerSpec&, const SpawnedWorker&)>;
/// Called for a failed worker before its stderr tail is read: returns once its output is in its
/// log file (the agent waits, bounded, for its log pump to reach the pipe's end).
using OutputFlush = std::function<void(const WorkerSpec&)>;
/// One line for the agent's console.
using NoteSink = std::function<void(std::string_view)>;

class Supervisor {
public:
  Supervisor(ProcessControl& processes, EventSource& events, util::Clock& clock,
             SupervisorOptions options, NoteSink note = {});

  [[nodiscard]] AttemptResult run(const std::vector<WorkerSpec>& workers, JobChannel& channel,
                                  const SpawnHook& on_spawn = {},
                                  const OutputFlush& flush_output = {});

private:
  ProcessControl& m_processes;
  EventSource& m_events;
  util::Clock& m_clock;
  SupervisorOptions m_options;
  NoteSink m_note;
};

/// The record of a local worker failure: error file (torchrun format) and stderr tail included.
[[nodiscard]] StopRecord failure_record(const WorkerSpec& worker, int pid,
                                        const ExitStatus& status, const SupervisorOptions& options);

} // namespace brix::launch
