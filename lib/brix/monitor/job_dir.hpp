#pragma once
// Every file of a job directory (the --log-dir of brix launch), named in this one place: launch
// writes it, the monitor serves from it, recover reads it, and the CLI names it in its messages.
//   launch.json              the latest attempt's world (launch/job_record.hpp)
//   attempt_N/               attempt N:
//     rank_R.out, rank_R.err   worker R's standard output and error
//     rank_R.error.json        worker R's TORCHELASTIC_ERROR_FILE
//     stop.json                why the attempt ended (launch/job_record.hpp)
//   events.jsonl             the event log (monitor/event_log.hpp)
//   token                    the job token, mode 0600, when brix monitor serve made one
//   monitor/endpoint         HOST:PORT of the monitor endpoint
//   monitor/snapshot.json    the monitor's latest snapshot, rewritten every interval
//   suspect-nodes.json       nodes the monitor's rules suspect (monitor/job_dir_actions.hpp)
//   recover-restarts.json    relaunches brix recover made (recover/relaunch.hpp)
//   recover-K/plan.yaml      the plan of recover's K-th relaunch, and
//   recover-K/checkpoint     the checkpoint resharded for it

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

namespace brix::monitor {

class JobDirLayout {
public:
  /// The files of the job directory `dir`, spelled `dir` + "/" + name, as the user gave `dir`.
  explicit JobDirLayout(const std::string& dir) : m_prefix(dir + "/") {}
  /// The same names relative to the job directory, as reports cite them ("attempt_0/stop.json").
  [[nodiscard]] static JobDirLayout relative() { return JobDirLayout(); }

  [[nodiscard]] std::string launch_record() const { return m_prefix + "launch.json"; }
  [[nodiscard]] std::string event_log() const { return m_prefix + "events.jsonl"; }
  [[nodiscard]] std::string token() const { return m_prefix + "token"; }
  [[nodiscard]] std::string monitor_dir() const { return m_prefix + "monitor"; }
  [[nodiscard]] std::string endpoint() const { return monitor_dir() + "/endpoint"; }
  [[nodiscard]] std::string snapshot() const { return monitor_dir() + "/snapshot.json"; }
  [[nodiscard]] std::string suspect_nodes() const { return m_prefix + "suspect-nodes.json"; }
  [[nodiscard]] std::string restarts() const { return m_prefix + "recover-restarts.json"; }

  // Numbered names take an attempt, rank or restart number, or a placeholder ("N") in help texts.
  template <class Attempt> [[nodiscard]] std::string attempt_dir(const Attempt& attempt) const {
    return fmt::format("{}{}{}", m_prefix, k_attempt_prefix, attempt);
  }
  template <class Attempt> [[nodiscard]] std::string stop_record(const Attempt& attempt) const {
    return attempt_dir(attempt) + "/stop.json";
  }
  /// A worker's file in its attempt's folder: `kind` "out" and "err" (its standard output and
  /// error) or "error.json" (its TORCHELASTIC_ERROR_FILE).
  template <class Attempt, class Rank>
  [[nodiscard]] std::string rank_file(const Attempt& attempt, const Rank& rank, std::string_view kind) const {
    return fmt::format("{}/rank_{}.{}", attempt_dir(attempt), rank, kind);
  }
  template <class Restart> [[nodiscard]] std::string recover_dir(const Restart& restart) const {
    return fmt::format("{}recover-{}", m_prefix, restart);
  }
  template <class Restart> [[nodiscard]] std::string recover_plan(const Restart& restart) const {
    return recover_dir(restart) + "/plan.yaml";
  }
  template <class Restart> [[nodiscard]] std::string recover_checkpoint(const Restart& restart) const {
    return recover_dir(restart) + "/checkpoint";
  }

  /// The attempt whose folder an entry of the job directory is ("attempt_3" -> 3); nullopt for
  /// every other name.
  [[nodiscard]] static std::optional<int> attempt_of(std::string_view name);

private:
  static constexpr std::string_view k_attempt_prefix = "attempt_";
  JobDirLayout() = default;
  std::string m_prefix;
};

} // namespace brix::monitor
