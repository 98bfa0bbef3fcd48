#pragma once
// Worker processes behind an interface: the supervisor's logic is unit-tested with a fake, and
// PosixProcessControl runs real processes (own process group, parent-death signal, CPU/NUMA
// binding, stdout/stderr pipes for the log pump).

#include <brix/util/clock.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::launch {

struct WorkerSpec {
  int rank = 0;
  int local_rank = 0;
  std::vector<std::string> argv; ///< argv[0] an absolute path (resolve_program)
  std::vector<std::string> env;  ///< the whole environment, "NAME=value"
  std::string stdout_path;
  std::string stderr_path;
  std::string error_file;        ///< TORCHELASTIC_ERROR_FILE
  std::vector<int> cpus;         ///< CPU affinity; empty = inherit
  std::optional<int> numa_node;  ///< preferred memory node
};

struct ExitStatus {
  int exit_code = 0; ///< when it exited
  int signal = 0;    ///< when a signal killed it
  [[nodiscard]] bool success() const { return exit_code == 0 && signal == 0; }
};

struct SpawnedWorker {
  int pid = 0;
  int stdout_fd = -1; ///< read ends of the worker's stdout/stderr pipes; -1 when none
  int stderr_fd = -1;
};

class ProcessControl {
public:
  virtual ~ProcessControl() = default;
  /// Starts a worker leading its own process group. Throws JobError when it cannot.
  virtual SpawnedWorker spawn(const WorkerSpec& spec) = 0;
  /// Sends `signal` to the worker's whole process group.
  virtual void signal_group(int pid, int signal) = 0;
  /// After an attempt: kills what is left (orphaned grandchildren adopted by the agent).
  virtual void kill_strays() = 0;
};

/// What the supervisor waits for.
struct Event {
  enum class Kind { exited, signal, timeout, woken };
  Kind kind = Kind::timeout;
  int pid = 0;
  ExitStatus status; ///< exited
  int signal = 0;    ///< signal: the signal the agent received
};

class EventSource {
public:
  virtual ~EventSource() = default;
  /// The next event, or Kind::timeout at `deadline`, or Kind::woken as soon as `wake_fd`
  /// (-1: none) is readable: the job channel's news comes in with the workers' exits.
  virtual Event next(util::Clock::TimePoint deadline, int wake_fd = -1) = 0;
};

/// The signals an agent forwards to its workers.
inline constexpr int k_forwarded_signals[] = {1 /*HUP*/, 2 /*INT*/, 10 /*USR1*/, 12 /*USR2*/,
                                              15 /*TERM*/};

/// Real processes. Construct it before any thread starts: it blocks SIGCHLD and the forwarded
/// signals (delivered through a signalfd), makes the agent a child subreaper, and forks a guard
/// process that kills every worker's process group when the agent dies, however it dies
/// (PR_SET_PDEATHSIG reaches only the workers themselves, not what they started).
class PosixProcessControl final : public ProcessControl, public EventSource {
public:
  PosixProcessControl();
  ~PosixProcessControl() override;
  SpawnedWorker spawn(const WorkerSpec& spec) override;
  void signal_group(int pid, int signal) override;
  void kill_strays() override;
  Event next(util::Clock::TimePoint deadline, int wake_fd = -1) override;
  /// A pending TERM, INT or HUP (0 when none), without waiting: for the phases without workers.
  [[nodiscard]] int take_stop_signal();

private:
  void reap();
  void tell_guard(char change, int pid);
  int m_signal_fd = -1;
  int m_agent_pid = 0;
  int m_guard_pid = 0;
  int m_guard_fd = -1; ///< write end of the guard's pipe
  std::vector<int> m_workers;
  std::vector<Event> m_queue;
};

/// argv[0] as an absolute path: as given when it has a '/', else searched on PATH. An InputError
/// when it is not an executable file (a typo fails at once, not in every worker).
[[nodiscard]] std::string resolve_program(const std::string& name, const std::string& path_env);

} // namespace brix::launch
