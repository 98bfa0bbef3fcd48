#pragma once
// `brix recover JOB_DIR`: after a failure, name what failed, choose the nodes to avoid, re-plan
// on what is left keeping the global batch, map the old layout onto the new one, prepare the
// checkpoint, and relaunch within a restart budget. Slurm, the checkpoint store and the reshard
// come in through RecoverEnv so that the whole decision is unit-tested with fakes.

#include <brix/plan/plan_file.hpp>
#include <brix/recover/exclusions.hpp>
#include <brix/recover/failures.hpp>
#include <brix/recover/mapping.hpp>
#include <brix/recover/relaunch.hpp>
#include <brix/recover/replan.hpp>
#include <brix/recover/slurm.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace brix::recover {

enum class RecoverMode {
  print,   ///< prepare (new plan file, reshard) and print the relaunch
  dry_run, ///< explain only: nothing written, nothing run
  submit,  ///< prepare and relaunch
};

struct RecoverOptions {
  std::string job_dir;
  std::string plan_path;      ///< "" = the plan brix launch ran with (launch.json)
  std::string checkpoint_dir; ///< "" = the worker command's --checkpoint-dir, if any
  int max_restarts = 3;
  bool from_scratch = false;  ///< relaunch even without a good checkpoint
  RecoverMode mode = RecoverMode::print;
};

/// The latest complete checkpoint the store finds in a directory.
struct CheckpointFound {
  std::string format; ///< brix | megatron | dcp | safetensors
  std::string path;
  std::int64_t step = -1;
  std::string status;
  nlohmann::ordered_json layout; ///< what the checkpoint records of its layout (catalog.hpp)
};

struct RecoverEnv {
  CommandRunner run;
  std::function<std::optional<CheckpointFound>(const std::string& dir)> latest_checkpoint;
  /// Reshards the safetensors checkpoint `in` for `plan` into `out` (shard::write_reshard).
  std::function<void(const plan::PlanFile& plan, const std::string& in, const std::string& out)> reshard;
  double now = 0; ///< Unix seconds, for the restart record
};

struct RecoveryReport {
  std::string job_dir;
  std::string slurm_job_id;
  std::vector<Failure> failures;             ///< first failure first
  std::vector<std::string> kept_notes;       ///< failures that did not exclude their node
  std::vector<Exclusion> exclusions;
  std::vector<std::string> usable_nodes;     ///< the pool minus the exclusions
  int nodes_needed = 0;
  std::optional<plan::PlanFile> old_plan;
  std::optional<Replan> replan;
  std::string new_plan_path;                 ///< written when the plan changed
  std::vector<RankSources> mapping;          ///< when the layout changed
  std::string checkpoint_dir;
  std::optional<CheckpointFound> checkpoint;
  std::string checkpoint_action;             ///< reshard done / command to run / nothing
  std::string resume_from;                   ///< the resharded checkpoint the relaunch loads ("" = none)
  int restarts_used = 0;
  int max_restarts = 0;
  std::optional<Relaunch> relaunch;
  RecoverMode mode = RecoverMode::print;
  bool can_recover = false;
  std::string verdict;                       ///< one line: what was done, or why not
  std::string submitted_job;                 ///< the new Slurm job id after --submit
};

/// Runs the whole decision (and, per mode, the actions). "Cannot recover" is a report with
/// can_recover false, not an exception; bad input is an InputError.
[[nodiscard]] RecoveryReport recover_job(const RecoverOptions& options, const RecoverEnv& env);

[[nodiscard]] nlohmann::ordered_json to_json(const RecoveryReport& report);
[[nodiscard]] std::string to_text(const RecoveryReport& report);

/// The value of `--checkpoint-dir` (or `--checkpoint-dir=`) in a worker command; "" when absent.
[[nodiscard]] std::string checkpoint_dir_of(const std::vector<std::string>& command);

} // namespace brix::recover
