#pragma once
// Why one attempt of a job ended. The first agent to post a record for an attempt wins (a
// compare-and-set in the rendezvous store), so every agent acts on the same root cause.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::launch {

enum class StopKind {
  done,      ///< every worker on every node exited 0
  failed,    ///< a worker exited non-zero or died of a signal
  signalled, ///< an agent received TERM/INT/HUP (scancel, preemption, Ctrl-C)
  lost,      ///< an agent stopped answering (node down, agent killed)
};

[[nodiscard]] std::string to_string(StopKind kind);

struct StopRecord {
  StopKind kind = StopKind::done;
  int node_rank = -1;
  std::string node;
  int rank = -1;       ///< global rank of the failed worker (failed only)
  int local_rank = -1;
  int pid = 0;
  int exit_code = 0;   ///< when it exited
  int signal = 0;      ///< when a signal killed it, or the signal an agent received
  double time = 0;     ///< Unix seconds
  bool restartable = true;
  std::string message;                 ///< from the error file, or a description
  std::string traceback;               ///< error file's extraInfo.py_callstack
  std::string stderr_path;
  std::vector<std::string> stderr_tail; ///< last lines of the worker's stderr

  [[nodiscard]] nlohmann::json to_json() const;
  [[nodiscard]] static StopRecord from_json(const nlohmann::json& json);
};

/// "SIGKILL" for 9; "SIG<n>" when unknown.
[[nodiscard]] std::string signal_name(int signal);

/// The launcher's exit code for an attempt that ended this way: 0 done, the worker's exit code,
/// 128+signal for signals (as a shell reports them), 1 for a lost node.
[[nodiscard]] int exit_code_for(const StopRecord& record);

/// torchrun's error file: {"message": {"message": ..., "extraInfo": {"py_callstack": ...,
/// "timestamp": "<unix s>"}}}. Also accepts "message" as a plain string. nullopt when unreadable.
struct ErrorFile {
  std::string message;
  std::string traceback;
  std::optional<double> timestamp;
};
[[nodiscard]] std::optional<ErrorFile> read_error_file(const std::string& path);

/// The last `count` lines of a text file (empty when it cannot be read); reads only its tail.
[[nodiscard]] std::vector<std::string> tail_lines(const std::string& path, std::size_t count);

/// Multi-line human report of a failure: rank, node, exit code or signal, error file message,
/// last stderr lines.
[[nodiscard]] std::string failure_report(const StopRecord& record, int attempt, int max_restarts);

} // namespace brix::launch
