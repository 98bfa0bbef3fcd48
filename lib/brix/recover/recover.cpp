#include <brix/recover/recover.hpp>

#include <brix/launch/hostlist.hpp>
#include <brix/monitor/job_dir.hpp>
#include <brix/recover/planner.hpp>
#include <brix/plan/plan_inputs.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>

namespace brix::recover {
namespace {

namespace fs = std::filesystem;

/// The nodes a relaunch may pick from: every node Slurm knows, else the job's own nodes.
std::vector<std::string> node_pool(const std::optional<std::vector<SlurmNode>>& slurm_nodes,
                                   const JobDir& job) {
  std::vector<std::string> pool;
  if (slurm_nodes) {
    for (const auto& node : *slurm_nodes) {
      pool.push_back(node.name);
    }
  } else if (job.launch) {
    for (const auto& node : job.launch->nodes) {
      pool.push_back(node.node);
    }
  }
  return pool;
}

std::string resolve_dir(const std::string& dir, const std::optional<SlurmJob>& job) {
  if (dir.empty() || fs::path(dir).is_absolute() || !job || job->work_dir.empty()) {
    return dir;
  }
  return (fs::path(job->work_dir) / dir).lexically_normal().string();
}

/// Takes the report by reference: callers build `why` from the report's own fields, and a
/// by-value parameter moved from `std::move(report)` may be built first (clang evaluates
/// arguments left to right), leaving those fields empty ("0 usable" nodes).
RecoveryReport refuse(RecoveryReport& report, std::string why) {
  report.can_recover = false;
  report.verdict = "cannot recover: " + std::move(why);
  return std::move(report);
}

/// Re-plans, fills the report's plan fields; false (with the verdict) when nothing fits.
bool replan_job(RecoveryReport& report, const std::string& plan_path, int restart) {
  const auto context = load_plan_context(plan_path);
  report.old_plan = context.plan;
  const int usable = static_cast<int>(report.usable_nodes.size());
  auto result = replan(context.plan, context.gpus_per_node(), usable, planner_check(context),
                       planner_search(context));
  report.nodes_needed = result.decision == ReplanDecision::impossible ? result.old_nodes : result.nodes;
  if (result.decision != ReplanDecision::unchanged && result.decision != ReplanDecision::impossible) {
    report.new_plan_path = monitor::JobDirLayout(report.job_dir).recover_plan(restart);
    result.plan.path = report.new_plan_path;
    // The new plan lives in JOB_DIR: its sources must not depend on where it sits.
    for (auto* source : {&result.plan.model, &result.plan.cluster}) {
      if (!source->source.empty()) {
        source->source = fs::absolute(plan::resolve_plan_source(context.plan, *source, "source")).string();
      }
    }
    report.mapping = map_layouts(context.plan, result.plan, context.model.layers);
  }
  report.replan = std::move(result);
  return report.replan->decision != ReplanDecision::impossible;
}

/// Finds the checkpoint to resume from and, when the layout changed, prepares its reshard.
std::optional<std::string> prepare_checkpoint(RecoveryReport& report, const RecoverOptions& options,
                                              const RecoverEnv& env, int restart) {
  if (report.checkpoint_dir.empty()) {
    report.checkpoint_action = "no checkpoint directory known (the worker command has no "
                               "--checkpoint-dir; pass --checkpoint-dir): the job restarts as it did";
    return std::nullopt;
  }
  if (options.from_scratch) {
    report.checkpoint_action = "--from-scratch: no checkpoint required";
    return std::nullopt;
  }
  report.checkpoint = env.latest_checkpoint(report.checkpoint_dir);
  if (!report.checkpoint) {
    return fmt::format("no good checkpoint in {} (--from-scratch relaunches without one)",
                       report.checkpoint_dir);
  }
  const bool changed = report.replan && report.old_plan && report.replan->layout_changed(*report.old_plan);
  const auto step = report.checkpoint->step;
  if (!changed) {
    report.checkpoint_action =
        report.replan && report.replan->decision == ReplanDecision::shrink_dp
            ? fmt::format("resume from step {}: only the data-parallel size changed (every rank's weight "
                          "shard stays valid), no reshard",
                          step)
            : fmt::format("resume from step {}: layout unchanged, no reshard", step);
    return std::nullopt;
  }
  const auto& new_layout = report.replan->plan.layout;
  const auto& layout = report.checkpoint->layout;
  const auto& format = report.checkpoint->format;
  if (format == "brix") {
    if (layout.is_object() && layout.contains("data_parallel") && layout.contains("world_size") &&
        layout["data_parallel"] == layout["world_size"]) {
      // brix-worker train: every rank holds the whole state and rank 0 saves it.
      report.checkpoint_action = fmt::format(
          "resume from step {}: the brix checkpoint holds state replicated over its {} data-parallel "
          "rank(s), which any layout restores as is: no reshard",
          step, layout["data_parallel"].dump());
    } else {
      report.checkpoint_action = fmt::format(
          "layout changed and the brix checkpoint at step {} holds per-rank files (layout {}): brix "
          "reshards safetensors only; reshard it with the program that wrote it, or relaunch with "
          "--from-scratch",
          step, layout.is_null() ? "{}" : layout.dump());
    }
    return std::nullopt;
  }
  if (format == "dcp" || (format == "megatron" && layout.is_object() && layout.value("format", "") == "torch_dist")) {
    report.checkpoint_action = fmt::format(
        "resume from step {}: a {} checkpoint in PyTorch Distributed Checkpoint form reshards as it "
        "loads (.metadata records every tensor's saved sharding): no conversion",
        step, format == "dcp" ? "DCP" : "Megatron-LM torch_dist");
    return std::nullopt;
  }
  if (format == "megatron") {
    report.checkpoint_action = fmt::format(
        "layout changed and the Megatron-LM checkpoint at step {} is in per-rank form (mp_rank_*), which "
        "loads only with the tensor/pipeline sizes it was saved with: convert it with Megatron-LM's "
        "tools/checkpoint/convert.py (--target-tensor-parallel-size {} --target-pipeline-parallel-size {}) "
        "and relaunch with --load pointing at the result",
        step, new_layout.tp, new_layout.pp);
    return std::nullopt;
  }
  const auto out = monitor::JobDirLayout(report.job_dir).recover_checkpoint(restart);
  const auto command = fmt::format("brix shard weights --plan {} --in {} --out {}",
                                   report.new_plan_path, report.checkpoint->path, out);
  report.resume_from = out;
  if (options.mode == RecoverMode::dry_run) {
    report.checkpoint_action = "layout changed: would run " + command;
  } else {
    env.reshard(report.replan->plan, report.checkpoint->path, out);
    report.checkpoint_action = fmt::format("layout changed: resharded {} into {}",
                                           report.checkpoint->path, out);
  }
  return std::nullopt;
}

void submit(RecoveryReport& report, const RecoverEnv& env) {
  for (const auto& argv : report.relaunch->commands) {
    const auto result = env.run(argv);
    if (result.exit_code != 0) {
      throw JobError(fmt::format("{} failed (exit {}): {}", argv.front(), result.exit_code,
                                 shell_line(argv)));
    }
    if (argv.front() == "sbatch") {
      report.submitted_job = parse_submitted_job_id(result.output).value_or("");
    }
  }
  std::vector<std::string> excluded;
  for (const auto& exclusion : report.exclusions) {
    excluded.push_back(exclusion.node);
  }
  record_restart(report.job_dir, {{"time", env.now},
                                  {"action", to_string(report.relaunch->kind)},
                                  {"slurm_job_id", report.slurm_job_id},
                                  {"new_job_id", report.submitted_job},
                                  {"excluded", excluded},
                                  {"plan", report.new_plan_path},
                                  {"resume_from", report.resume_from}});
}

} // namespace

std::string checkpoint_dir_of(const std::vector<std::string>& command) {
  for (std::size_t i = 0; i < command.size(); ++i) {
    if (command[i] == "--checkpoint-dir" && i + 1 < command.size()) {
      return command[i + 1];
    }
    if (command[i].starts_with("--checkpoint-dir=")) {
      return command[i].substr(17);
    }
  }
  return {};
}

RecoveryReport recover_job(const RecoverOptions& options, const RecoverEnv& env) {
  RecoveryReport report;
  report.job_dir = options.job_dir;
  report.mode = options.mode;
  report.max_restarts = options.max_restarts;
  const auto job = read_job_dir(options.job_dir);
  report.failures = job.failures;
  report.kept_notes = kept_nodes_notes(job.failures);
  report.restarts_used = static_cast<int>(read_restarts(options.job_dir).size());
  if (job.completed()) {
    return refuse(report, fmt::format("the job completed (attempt {} ended with every "
                                      "worker exiting 0): nothing to relaunch",
                                      job.stops.back().attempt));
  }

  std::optional<std::vector<SlurmNode>> slurm_nodes;
  std::optional<SlurmJob> slurm_job;
  if (job.launch && !job.launch->slurm_job_id.empty()) {
    report.slurm_job_id = job.launch->slurm_job_id;
    slurm_nodes = query_nodes(env.run);
    if (!slurm_nodes) {
      throw JobError(fmt::format("job {} ran under Slurm but neither `scontrol show node` nor "
                                 "`sinfo` ran here (run brix recover on a Slurm login node)",
                                 report.slurm_job_id));
    }
    slurm_job = query_job(env.run, report.slurm_job_id);
    if (slurm_job) {
      // A node failure often shows first as a peer's collective error: Slurm names the node.
      for (auto& failure : slurm_failures(*slurm_job, *slurm_nodes)) {
        report.failures.push_back(std::move(failure));
      }
      std::stable_sort(report.failures.begin(), report.failures.end(),
                       [](const Failure& a, const Failure& b) { return a.time < b.time; });
    }
  }
  if (report.failures.empty()) {
    return refuse(report, "no failure recorded in the job directory or by Slurm (still running?)");
  }
  report.exclusions = decide_exclusions(report.failures, job.suspects,
                                        slurm_nodes.value_or(std::vector<SlurmNode>{}));
  for (const auto& node : node_pool(slurm_nodes, job)) {
    const bool excluded = std::any_of(report.exclusions.begin(), report.exclusions.end(),
                                      [&](const Exclusion& e) { return e.node == node; });
    if (!excluded) {
      report.usable_nodes.push_back(node);
    }
  }

  const int restart = report.restarts_used + 1;
  const auto plan_path = !options.plan_path.empty() ? options.plan_path
                         : job.launch                ? job.launch->plan_path
                                                     : std::string();
  if (!plan_path.empty()) {
    if (!replan_job(report, plan_path, restart)) {
      return refuse(report, report.replan->why);
    }
  } else {
    report.nodes_needed = slurm_job && slurm_job->num_nodes > 0 ? slurm_job->num_nodes
                          : job.launch ? static_cast<int>(job.launch->nodes.size())
                                       : 0;
    if (report.nodes_needed == 0) {
      throw InputError(fmt::format("{}: no {} and no --plan: cannot tell how many nodes the job needs",
                                   options.job_dir, monitor::JobDirLayout::relative().launch_record()));
    }
  }
  if (static_cast<int>(report.usable_nodes.size()) < report.nodes_needed) {
    return refuse(report,
                  fmt::format("not enough nodes left: {} usable, {} needed{}",
                              report.usable_nodes.size(), report.nodes_needed,
                              plan_path.empty() ? " (without a plan the node count is fixed)" : ""));
  }

  report.checkpoint_dir = resolve_dir(
      !options.checkpoint_dir.empty() ? options.checkpoint_dir
      : job.launch                    ? checkpoint_dir_of(job.launch->command)
                                      : std::string(),
      slurm_job);
  if (const auto why_not = prepare_checkpoint(report, options, env, restart)) {
    return refuse(report, *why_not);
  }
  if (report.restarts_used >= options.max_restarts) {
    return refuse(report,
                  fmt::format("restart budget spent: {} of {} relaunches used (see {}; raise "
                              "--max-restarts)",
                              report.restarts_used, options.max_restarts,
                              monitor::JobDirLayout(options.job_dir).restarts()));
  }

  RelaunchRequest request;
  request.job = slurm_job;
  if (job.launch) {
    request.record = *job.launch;
  }
  for (const auto& exclusion : report.exclusions) {
    request.exclude.push_back(exclusion.node);
  }
  request.hosts.assign(report.usable_nodes.begin(),
                       report.usable_nodes.begin() + std::min<std::size_t>(report.usable_nodes.size(),
                                                                           static_cast<std::size_t>(report.nodes_needed)));
  request.nodes = report.nodes_needed;
  request.plan_path = report.new_plan_path;
  request.resume_from = report.resume_from;
  try {
    report.relaunch = plan_relaunch(request);
  } catch (const JobError& e) {
    return refuse(report, e.what());
  }

  report.can_recover = true;
  if (options.mode == RecoverMode::dry_run) {
    report.verdict = "dry run: would relaunch as shown (nothing written, nothing run)";
    return report;
  }
  if (!report.new_plan_path.empty()) {
    fs::create_directories(fs::path(report.new_plan_path).parent_path());
    plan::save_plan_file(report.replan->plan, report.new_plan_path);
  }
  if (options.mode == RecoverMode::print) {
    report.verdict = "run the command(s) above to relaunch (or use --submit)";
    return report;
  }
  if (report.relaunch->kind == RelaunchKind::manual) {
    throw InputError("--submit relaunches Slurm jobs only; this job ran without Slurm (run the "
                     "printed brix launch line on each node)");
  }
  submit(report, env);
  report.verdict = report.submitted_job.empty()
                       ? fmt::format("relaunched ({})", to_string(report.relaunch->kind))
                       : fmt::format("submitted Slurm job {}", report.submitted_job);
  return report;
}

} // namespace brix::recover
