#pragma once
// The relaunch of a recovered job: `sbatch --exclude=...` re-using the job's own batch script and
// arguments, `scontrol update ... ExcNodeList=` for a job Slurm already requeued, or a `brix
// launch` line outside Slurm; and the restart budget counted in JOB_DIR/recover-restarts.json.

#include <brix/launch/job_record.hpp>
#include <brix/recover/slurm.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::recover {

enum class RelaunchKind {
  sbatch,          ///< submit the job's script again, excluding nodes
  update_requeued, ///< Slurm requeued it: add the exclusions to the waiting job
  manual,          ///< not a Slurm job: a brix launch line to run on each node
};

[[nodiscard]] std::string to_string(RelaunchKind kind);

struct Relaunch {
  RelaunchKind kind = RelaunchKind::sbatch;
  std::vector<std::vector<std::string>> commands; ///< argv of each command, in order
  std::string why;
};

struct RelaunchRequest {
  std::optional<SlurmJob> job;     ///< the Slurm job, when Slurm still knows it
  launch::JobRecord record;        ///< launch.json
  std::vector<std::string> exclude;  ///< nodes to avoid (added to the job's own ExcNodeList)
  std::vector<std::string> hosts;    ///< nodes to run on outside Slurm
  int nodes = 0;                     ///< nodes the relaunch needs
  std::string plan_path;             ///< the plan to run with ("" = none or unchanged)
  std::string resume_from;           ///< a resharded checkpoint to load ("" = the job's own)
};

/// The commands of a relaunch. A Slurm job still running, or one Slurm forgot (past MinJobAge),
/// is a JobError saying what to do instead.
[[nodiscard]] Relaunch plan_relaunch(const RelaunchRequest& request);

/// The script's arguments with the value of `--plan` replaced by `plan_path` (unchanged when
/// `plan_path` is empty or no --plan is present).
[[nodiscard]] std::vector<std::string> with_plan(std::vector<std::string> args, const std::string& plan_path);

/// The environment variable a relaunch exports when the worker command names no checkpoint
/// directory brix can rewrite.
inline constexpr const char* k_resume_env = "BRIX_RESUME_FROM";

enum class ResumeArgument {
  checkpoint_dir, ///< the command's --checkpoint-dir (brix-worker, and programs like it)
  megatron_load,  ///< Megatron-LM's --load (its --save stays)
  environment,    ///< neither: BRIX_RESUME_FROM=DIR is exported and the program must read it
};

struct ResumeRewrite {
  std::vector<std::string> command;
  ResumeArgument how = ResumeArgument::environment;
};

/// A worker command pointed at the checkpoint directory `dir`: the value of its --checkpoint-dir,
/// else of --load, replaced; with neither, the command unchanged and `how` environment.
[[nodiscard]] ResumeRewrite with_resume_dir(std::vector<std::string> command, const std::string& dir);

/// A shell-ready line: words quoted where needed.
[[nodiscard]] std::string shell_line(const std::vector<std::string>& argv);

/// Relaunches recorded so far (0 without the file); InputError when it is malformed.
[[nodiscard]] std::vector<nlohmann::json> read_restarts(const std::string& job_dir);
/// Appends one relaunch (atomically rewrites the file).
void record_restart(const std::string& job_dir, const nlohmann::json& entry);

} // namespace brix::recover
