// brix recover JOB_DIR: after a failure, name it, exclude nodes, re-plan and relaunch
// (brix::recover::recover_job does the work).
#include "command.hpp"

#include <brix/recover/recover.hpp>
#include <brix/recover/system_env.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>

#include <iostream>

namespace brix::cli {
namespace {

struct RecoverJobFlags {
  recover::RecoverOptions options;
  bool dry_run = false;
  bool submit = false;
  std::string format = "text";
};

void run_recover_job(RecoverJobFlags& flags, CommandContext& context) {
  if (flags.dry_run && flags.submit) {
    throw InputError("--dry-run and --submit together (expected one of them)");
  }
  const auto format = util::parse_format(flags.format);
  flags.options.mode = flags.dry_run ? recover::RecoverMode::dry_run
                       : flags.submit ? recover::RecoverMode::submit
                                      : recover::RecoverMode::print;
  const auto report = recover::recover_job(flags.options, recover::system_env());
  if (format == util::Format::text) {
    std::cout << recover::to_text(report);
  } else {
    util::emit_document(std::cout, recover::to_json(report), format);
  }
  context.exit_code = report.can_recover ? 0 : 1;
}

} // namespace

/// `brix recover JOB_DIR` on the `recover` command (its default action).
void add_recover_job_action(CLI::App& command, CommandContext& context) {
  auto flags = std::make_shared<RecoverJobFlags>();
  auto& o = flags->options;
  command.add_option("job_dir", o.job_dir, "The job's directory: brix launch --log-dir");
  command.add_option("--plan", o.plan_path, "plan.yaml to re-plan (default: the one brix launch ran)");
  command.add_option("--checkpoint-dir", o.checkpoint_dir,
                     "Checkpoints to resume from (default: the worker command's --checkpoint-dir)");
  command.add_option("--max-restarts", o.max_restarts,
                     "Relaunches allowed for this job dir, counted in JOB_DIR/recover-restarts.json "
                     "(default 3)")
      ->check(CLI::Range(0, 1000000));
  command.add_flag("--from-scratch", o.from_scratch, "Relaunch even without a good checkpoint");
  command.add_flag("--dry-run", flags->dry_run, "Explain everything; write and run nothing");
  command.add_flag("--submit", flags->submit, "Relaunch: run sbatch / scontrol update");
  add_format_option(command, flags->format);
  command.callback([flags, &context, &command] {
    if (command.get_subcommands().empty()) {
      if (flags->options.job_dir.empty()) {
        throw InputError("brix recover: no JOB_DIR (expected brix recover JOB_DIR [--dry-run|--submit])");
      }
      run_recover_job(*flags, context);
    }
  });
}

void add_recover_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand(
      "recover", "After a failure: name it, exclude bad nodes, re-plan, relaunch");
  command->footer("Exit code: 0 a relaunch was (or would be) done; 1 cannot recover (the report "
                  "says why); 2 bad input. See man/brix-recover.1.");
  add_recover_job_action(*command, context);
}

} // namespace brix::cli
