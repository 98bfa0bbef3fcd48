// brix recover: check and list checkpoints (`verify`, `list`), collect the store's garbage
// (`gc`); with a JOB_DIR and no subcommand, the after-failure flow (recover/recover.hpp).
#include "command.hpp"

#include <brix/checkpoint/report.hpp>
#include <brix/checkpoint/store.hpp>
#include <brix/monitor/job_dir.hpp>
#include <brix/recover/recover.hpp>
#include <brix/recover/system_env.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>
#include <brix/util/print.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>
#include <iostream>
#include <memory>

namespace brix::cli {

namespace {

struct VerifyArgs {
  std::string dir;
  std::string mirror;
  bool latest_only = false;
  std::string format;
};

int run_verify(const VerifyArgs& args) {
  const auto format = util::parse_format(args.format);
  checkpoint::Verification verification{{checkpoint::verify_checkpoints(args.dir, args.latest_only)}};
  if (!args.mirror.empty()) {
    verification.stores.push_back(checkpoint::verify_checkpoints(args.mirror, args.latest_only));
  }
  util::print(verification, format);
  for (const auto& error : checkpoint::errors(verification)) {
    std::cerr << error << '\n';
  }
  return verification.ok() ? 0 : static_cast<int>(ExitCode::job_failed);
}

struct ListArgs {
  std::string dir;
  bool verify = false;
  std::string format;
};

int run_list(const ListArgs& args) {
  const auto format = util::parse_format(args.format);
  const checkpoint::CheckpointListing listing{args.dir, checkpoint::list_checkpoints(args.dir, args.verify)};
  util::print(listing, format);
  if (const auto line = checkpoint::error(listing)) {
    std::cerr << *line << '\n';
    return static_cast<int>(ExitCode::job_failed);
  }
  return 0;
}

struct GcArgs {
  std::string dir;
  int keep = 0;
  std::string format;
};

int run_gc(const GcArgs& args) {
  const auto format = util::parse_format(args.format);
  if (!checkpoint::is_store(args.dir)) {
    throw InputError(located(args.dir, 0, "not a brix checkpoint store", "a directory with manifests/ and latest"));
  }
  util::print(checkpoint::Store(args.dir).collect_garbage(args.keep), format);
  return 0;
}

void add_store_commands(CLI::App& command, CommandContext& context) {
  auto* verify = command.add_subcommand("verify", "Check every hash of the checkpoints in DIR; name the first bad file");
  auto verify_args = std::make_shared<VerifyArgs>();
  verify->add_option("dir", verify_args->dir, "Checkpoint directory (brix store, Megatron-LM, DCP, safetensors)")
      ->required();
  verify->add_option("--mirror", verify_args->mirror, "Also verify this mirror of DIR");
  verify->add_flag("--latest", verify_args->latest_only, "Only the checkpoint `latest` names (brix stores)");
  add_format_option(*verify, verify_args->format);
  verify->callback([verify_args, &context] { context.exit_code = run_verify(*verify_args); });

  auto* list = command.add_subcommand("list", "Checkpoints in DIR: step, format, size, new bytes, status");
  auto list_args = std::make_shared<ListArgs>();
  list->add_option("dir", list_args->dir, "Checkpoint directory")->required();
  list->add_flag("--verify", list_args->verify, "Hash every chunk (default: sizes and structure only)");
  add_format_option(*list, list_args->format);
  list->callback([list_args, &context] { context.exit_code = run_list(*list_args); });

  auto* gc = command.add_subcommand("gc", "Remove chunks no manifest names (and manifests beyond --keep)");
  auto gc_args = std::make_shared<GcArgs>();
  gc->add_option("dir", gc_args->dir, "brix checkpoint store")->required();
  gc->add_option("--keep", gc_args->keep, "Keep the newest N manifests (0: all); latest always stays")
      ->check(CLI::Range(0, 1000000));
  add_format_option(*gc, gc_args->format);
  gc->callback([gc_args, &context] { context.exit_code = run_gc(*gc_args); });
}

// `brix recover JOB_DIR` (no subcommand): the after-failure flow — name the failure, exclude
// nodes, re-plan, relaunch (brix::recover::recover_job).

struct JobRecoveryArgs {
  recover::RecoverOptions options;
  bool dry_run = false;
  bool submit = false;
  std::string format;
};

void add_job_recovery_options(CLI::App& command, JobRecoveryArgs& args) {
  auto& o = args.options;
  command.add_option("job_dir", o.job_dir, "The job's directory (brix launch --log-dir): recover it");
  command.add_option("--plan", o.plan_path, "plan.yaml to re-plan (default: the one brix launch ran)");
  command.add_option("--checkpoint-dir", o.checkpoint_dir,
                     "Checkpoints to resume from (default: the worker command's --checkpoint-dir)");
  command.add_option("--max-restarts", o.max_restarts,
                     "Relaunches allowed for this job dir, counted in " + monitor::JobDirLayout("JOB_DIR").restarts() +
                         " (default 3)")
      ->check(CLI::Range(0, 1000000));
  command.add_flag("--from-scratch", o.from_scratch, "Relaunch without requiring a good checkpoint");
  command.add_flag("--dry-run", args.dry_run, "Explain everything; write and run nothing");
  command.add_flag("--submit", args.submit, "Relaunch: run sbatch / scontrol update");
  add_format_option(command, args.format);
}

int run_job_recovery(JobRecoveryArgs& args) {
  if (args.options.job_dir.empty()) {
    throw InputError("recover: a subcommand (verify, list, gc) or a JOB_DIR is required");
  }
  if (args.dry_run && args.submit) {
    throw InputError("--dry-run and --submit together (expected one of them)");
  }
  const auto format = util::parse_format(args.format);
  args.options.mode = args.dry_run ? recover::RecoverMode::dry_run
                      : args.submit ? recover::RecoverMode::submit
                                    : recover::RecoverMode::print;
  const auto report = recover::recover_job(args.options, recover::system_env());
  util::print(report, format);
  return report.can_recover ? 0 : static_cast<int>(ExitCode::job_failed);
}

} // namespace

void add_recover_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand(
      "recover", "After a failure: name it, exclude nodes, re-plan, relaunch; verify and list checkpoints");
  command->footer("brix recover JOB_DIR: exit 0 a relaunch was (or would be) done; 1 cannot recover "
                  "(the report says why); 2 bad input. See man/brix-recover.1.");
  add_store_commands(*command, context);
  command->require_subcommand(0, 1);
  auto job_args = std::make_shared<JobRecoveryArgs>();
  add_job_recovery_options(*command, *job_args);
  command->callback([command, job_args, &context] {
    if (command->get_subcommands().empty()) {
      context.exit_code = run_job_recovery(*job_args);
    }
  });
}

} // namespace brix::cli
