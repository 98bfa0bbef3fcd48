// brix recover: check and list checkpoints (`verify`, `list`), collect the store's garbage
// (`gc`). The after-failure flow `brix recover JOB_DIR` (no subcommand) is its own part below.
#include "command.hpp"

#include <brix/checkpoint/report.hpp>
#include <brix/checkpoint/store.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <unistd.h>

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
  std::vector<checkpoint::VerifyReport> reports{checkpoint::verify_checkpoints(args.dir, args.latest_only)};
  if (!args.mirror.empty()) {
    reports.push_back(checkpoint::verify_checkpoints(args.mirror, args.latest_only));
  }
  bool ok = true;
  nlohmann::ordered_json documents = nlohmann::ordered_json::array();
  const util::Style style{util::use_colour(STDOUT_FILENO)};
  for (const auto& report : reports) {
    ok = ok && report.ok();
    if (format == util::Format::text) {
      std::cout << checkpoint::render_verify_text(report, style);
    } else {
      documents.push_back(checkpoint::verify_to_json(report));
    }
  }
  if (format != util::Format::text) {
    util::emit_document(std::cout, {{"ok", ok}, {"stores", documents}}, format);
  }
  for (const auto& report : reports) {
    if (report.first_bad) {
      std::cerr << fmt::format("brix: error: {}: step {}: {}\n", report.dir.string(), report.first_bad->step,
                               report.first_bad->detail);
    } else if (report.checked.empty()) {
      std::cerr << fmt::format("brix: error: {}: no checkpoint to verify\n", report.dir.string());
    }
  }
  return ok ? 0 : static_cast<int>(ExitCode::job_failed);
}

struct ListArgs {
  std::string dir;
  bool verify = false;
  std::string format;
};

int run_list(const ListArgs& args) {
  const auto format = util::parse_format(args.format);
  const auto infos = checkpoint::list_checkpoints(args.dir, args.verify);
  if (format == util::Format::text) {
    std::cout << checkpoint::render_infos_text(infos, util::Style{util::use_colour(STDOUT_FILENO)});
  } else {
    util::emit_document(std::cout, checkpoint::infos_to_json(args.dir, infos), format);
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
  const auto result = checkpoint::Store(args.dir).collect_garbage(args.keep);
  if (format == util::Format::text) {
    std::cout << fmt::format("removed {} manifest(s), {} chunk(s) ({}), {} temporary file(s)\n",
                             result.manifests_removed, result.chunks_removed,
                             util::gib(static_cast<double>(result.bytes_freed)), result.temps_removed);
    if (!result.skipped.empty()) {
      std::cout << "chunks kept: " << result.skipped << '\n';
    }
  } else {
    util::emit_document(std::cout,
                        {{"manifests_removed", result.manifests_removed},
                         {"chunks_removed", result.chunks_removed},
                         {"bytes_freed", result.bytes_freed},
                         {"temps_removed", result.temps_removed},
                         {"skipped", result.skipped}},
                        format);
  }
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

// ---------------------------------------------------------------------------------------------
// `brix recover JOB_DIR` (no subcommand): the after-failure flow — read the event log, exclude
// nodes, re-plan, relaunch. Owned by the recover-job branch: add its options with an
// `add_job_recovery_options(CLI::App&, ...)` and its action `run_job_recovery(...)` here, and call
// it from the callback in add_recover_command where marked.
// ---------------------------------------------------------------------------------------------

} // namespace

void add_recover_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("recover", "Verify, list and collect checkpoints");
  add_store_commands(*command, context);
  command->require_subcommand(0, 1);
  command->callback([command] {
    if (command->get_subcommands().empty()) {
      // JOB_DIR recovery (recover-job branch) goes here.
      throw InputError("recover: a subcommand is required (verify, list or gc)");
    }
  });
}

} // namespace brix::cli
