// brix plan: search layouts (default), the memory of one layout (--memory), model summaries
// (--describe), the GPU catalog (--gpus), calibration against published runs (`calibrate`) and
// the rebalancing of a running plan (--measured). Each is a library call returning a report.
// --serve plans serving instead (plan_serve.cpp).
#include "command.hpp"
#include "plan_serve.hpp"

#include <brix/cluster/gpu_catalog.hpp>
#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/calibration.hpp>
#include <brix/plan/emit_targets.hpp>
#include <brix/plan/plan_file.hpp>
#include <brix/plan/plan_run.hpp>
#include <brix/plan/rebalance_run.hpp>
#include <brix/plan/render_html.hpp>
#include <brix/plan/summary_run.hpp>
#include <brix/serve/emit_targets.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/print.hpp>
#include <brix/util/progress.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>
#include <memory>
#include <vector>
#include <unistd.h>

namespace brix::cli {

namespace {

struct PlanOptions {
  plan::PlanRequest request;
  std::optional<std::int64_t> seq_len;
  std::optional<std::int64_t> global_batch;
  bool describe = false;
  bool gpus = false;
  bool memory = false;
  std::string format;
  std::string output;    ///< -o FILE for --emit
  std::string calibrate_file;
  std::string measured;  ///< --measured
  std::string plan_file; ///< --plan (with --measured)
  std::string calibrate_format;
  std::string calibrate_emit;   ///< calibrate --emit html
  std::string calibrate_output; ///< calibrate -o FILE
  bool calibrate_serve = false; ///< calibrate --serve
  ServeCli serve;
};

/// --emit's text to stdout, or with -o atomically to a file.
void write_emitted(const std::string& text, const std::string& output) {
  if (output.empty()) {
    std::cout << text;
  } else {
    util::write_file_atomically(output, text);
  }
}

void print_warnings(const std::vector<std::string>& warnings) {
  for (const auto& warning : warnings) {
    std::cerr << warning << '\n';
  }
}

int run_describe_or_memory(const PlanOptions& options, util::Format format) {
  if (options.gpus) {
    util::print(plan::GpuCatalog{cluster::gpu_catalog()}, format);
    return 0;
  }
  if (options.describe) {
    const auto summary = plan::describe_model(options.request.model, options.seq_len);
    print_warnings(model::load_warnings(summary.model));
    util::print(summary, format);
    return 0;
  }
  // --memory: the per-stage memory of exactly one layout (TP 8 × PP 4 × DP 2 by default).
  const auto report = plan::memory_report({options.request.model, options.request.cluster, options.request.layout,
                                           options.seq_len, options.global_batch});
  print_warnings(model::load_warnings(report.model.model));
  util::print(report, format);
  return plan::exit_code(report);
}

int run_rebalance(const PlanOptions& options, util::Format format) {
  const auto& request = options.request;
  const auto report = plan::run_rebalance({options.measured, options.plan_file, request.software, request.emit});
  if (request.emit.empty()) {
    util::print(report, format);
    return 0;
  }
  const auto file = plan::rebalanced_plan(report.plan, report.rebalance);
  if (options.output.empty()) {
    std::cout << plan::to_yaml_text(file);
  } else {
    plan::save_plan_file(file, options.output);
  }
  return 0;
}

int run_search(const PlanOptions& options, util::Format format) {
  auto request = options.request;
  request.format = format;
  request.seq_len = options.seq_len.value_or(0);
  request.global_batch = options.global_batch.value_or(0);
  std::unique_ptr<util::Progress> progress;
  if (::isatty(STDERR_FILENO) == 1) {
    progress = std::make_unique<util::ProgressBar>(std::cerr, util::system_clock());
  } else {
    progress = std::make_unique<util::NoProgress>();
  }
  const auto report = plan::run_plan(request, *progress);
  progress.reset(); // the bar is erased before anything else is written
  if (!request.emit.empty()) {
    const auto emitted = plan::find_emit_target(request.emit).write(report);
    print_warnings(model::load_warnings(report.model));
    print_warnings(emitted.warnings);
    write_emitted(emitted.text, options.output);
    return 0;
  }
  print_warnings(plan::warnings(report));
  util::print(report, format);
  return plan::exit_code(report);
}

std::vector<std::string> gpu_ids() {
  std::vector<std::string> ids;
  for (const auto& gpu : cluster::gpu_catalog()) {
    ids.push_back(gpu.id);
  }
  return ids;
}

} // namespace

void add_plan_command(CLI::App& app, CommandContext& context) {
  auto options = std::make_shared<PlanOptions>();
  auto& request = options->request;
  auto* command = app.add_subcommand(
      "plan", "Search parallel layouts and predict memory, step time and MFU; describe models and clusters");
  auto* model = complete_with(command->add_option("--model", request.model,
                                                  "Bundled model name or a path to a HF config.json / brix model YAML")
                                  ->default_str("deepseek-r1"),
                              model::bundled_models());
  std::vector<CLI::Option*> cluster_options{
      complete_with(command->add_option("--cluster", request.cluster.cluster,
                                        "Bundled cluster name or a cluster YAML (default example-deployment)"),
                    cluster::bundled_clusters()),
      command->add_option("--nodes", request.cluster.nodes,
                          "Shorthand cluster: number of nodes; with --cluster: plan on its first N nodes"),
      command->add_option("--gpus-per-node", request.cluster.gpus_per_node,
                          "Shorthand cluster: GPUs per node (default: the GPU's usual node)"),
      complete_with(command->add_option("--gpu", request.cluster.gpu, "Shorthand cluster: GPU catalog id (see --gpus)"),
                    gpu_ids()),
      command->add_option("--nics-per-node", request.cluster.nics_per_node,
                          "Shorthand cluster: compute adapters per node (default: the usual node)"),
      command->add_option("--nic-gbps", request.cluster.nic_gbps,
                          "Shorthand cluster: Gb/s per adapter (default: the usual node)")};
  auto* seq_len = command->add_option("--seq-len", options->seq_len, "Training sequence length (default: the model's)");
  auto* batch = command->add_option("--global-batch", options->global_batch,
                                    "Sequences per step (default: proposed, ~4M tokens)");
  auto* layout = command->add_option("--layout", request.layout,
                                     "Fix layout fields, search the rest: tp=,pp=,dp=,ep=,etp=,cp=,sp=,mbs=,vpp=,"
                                     "schedule=,recompute=,zero=,grad_compression=,precision=,flash=,pp_embedding=,pp_loss=,moments=,offload=,capacity=,shard=,reshard=");
  auto* precision =
      complete_with(command->add_option("--precision", request.precision, "bf16 or fp8")->default_str("bf16"), {"bf16", "fp8"});
  auto* top = command->add_option("--top", request.top, "Plans to show")->default_str("5");
  auto* threads = command->add_option("--threads", request.threads, "Search threads")->default_str("1");
  auto* price = command->add_option("--price", request.price, "Price per GPU-hour: adds cost per 1T tokens");
  std::vector<std::string> emit_names;
  for (const auto& target : plan::emit_targets()) {
    emit_names.emplace_back(target.name);
  }
  for (const auto& target : serve::emit_targets()) {
    // A name both planners write (html) is completed once.
    if (std::find(emit_names.begin(), emit_names.end(), target.name) == emit_names.end()) {
      emit_names.emplace_back(target.name);
    }
  }
  auto* emit = complete_with(command->add_option("--emit", request.emit,
                                                 "Print the best plan as " + plan::emit_target_names(" | ") +
                                                     "; with --serve as " + serve::emit_target_names(" | ")),
                             emit_names);
  auto* output = command->add_option("-o,--output", options->output, "With --emit: write to this file (atomically)");
  auto* software = complete_with(command->add_option("--software", request.software,
                                                     fmt::format("Framework generation: {}", fmt::join(plan::software_names(), ", ")))
                                     ->default_str("modern"),
                                 plan::software_names());
  auto* mtbf = command->add_option("--gpu-mtbf-hours", request.checkpoint.gpu_mtbf_hours,
                                   "Per-GPU mean time between failures (default: Llama 3's, ~50,700 h)");
  auto* restart = command->add_option("--restart-s", request.checkpoint.restart_overhead_s,
                                      "Restart overhead besides loading the checkpoint (default 300 s)");
  auto* storage = command->add_option("--storage-gb-per-s", request.checkpoint.storage_write_gb_per_s,
                                      "Checkpoint storage write bandwidth, GB/s (default: the cluster file's, else "
                                      "2 GB/s per node, marked assumed)");
  auto* lamb = command->add_option("--lamb-beta", request.lamb_betas,
                                   "LAMB beta(s) to scale as beta·(1 + 0.05·ln nodes), refused when >= 1");
  auto* base_lr = command->add_option("--base-lr", request.base_lr, "Learning rate tuned at --base-batch");
  auto* base_batch = command->add_option("--base-batch", request.base_batch, "Global batch --base-lr was tuned at");
  base_lr->needs(base_batch);
  base_batch->needs(base_lr);
  auto* measured = command->add_option("--measured", options->measured,
                                       "Rebalance --plan's stage split from measured stage times (brix monitor --save-measured)");
  auto* plan_file = command->add_option("--plan", options->plan_file, "With --measured: the plan the job ran");
  measured->needs(plan_file);
  plan_file->needs(measured);
  auto* describe = command->add_flag("--describe", options->describe, "Print the model summary only");
  auto* gpus = command->add_flag("--gpus", options->gpus, "List the GPU catalog");
  auto* memory = command->add_flag("--memory", options->memory,
                                   fmt::format("Per-stage memory of exactly one layout (--layout, default {})",
                                               plan::k_default_memory_layout));
  add_serve_options(*command, options->serve);
  auto* calibrate = command->add_subcommand("calibrate", "Compare predictions with published runs");
  calibrate->add_option("file", options->calibrate_file,
                        "A calibration file, or a folder with fit/ and heldout/ (default configs/calibration; with "
                        "--serve configs/calibration/serving.yaml)");
  auto* calibrate_format = add_format_option(*calibrate, options->calibrate_format);
  auto* calibrate_emit = complete_with(calibrate->add_option("--emit", options->calibrate_emit,
                                                             "Write the comparison as html: charts of predicted against published"),
                                       {"html"});
  auto* calibrate_output = calibrate->add_option("-o,--output", options->calibrate_output,
                                                 "With --emit: write to this file (atomically)");
  calibrate_output->needs(calibrate_emit);
  calibrate_emit->excludes(calibrate_format);
  calibrate->add_flag("--serve", options->calibrate_serve, "Published serving results instead of training runs")
      ->excludes(calibrate_emit);

  // Options that would be parsed but not used are refused instead.
  const std::vector<CLI::Option*> search_only{precision, top, threads, price, emit, output, software,
                                              mtbf, restart, storage, lamb, base_lr, base_batch};
  for (auto* mode : {describe, gpus, memory}) {
    for (auto* option : search_only) {
      mode->excludes(option);
    }
  }
  for (auto* option : cluster_options) {
    describe->excludes(option);
    gpus->excludes(option);
  }
  for (auto* option : {batch, layout}) {
    describe->excludes(option);
    gpus->excludes(option);
  }
  for (auto* option : {model, seq_len, describe, memory}) {
    gpus->excludes(option);
  }
  describe->excludes(memory);
  // --measured works on the plan file: the search's inputs would be ignored, so they are refused.
  for (auto* option : std::vector<CLI::Option*>{model, layout, batch, seq_len, precision, top, threads, price, mtbf, restart,
                                                storage, lamb, base_lr, base_batch, describe, gpus, memory}) {
    measured->excludes(option);
  }
  for (auto* option : cluster_options) {
    measured->excludes(option);
  }
  output->needs(emit);
  add_format_option(*command, options->format);
  calibrate->callback([options, &context] {
    if (options->calibrate_serve) {
      run_serve_calibration(options->calibrate_file, options->calibrate_format);
      context.exit_code = 0;
      return;
    }
    const auto format = util::parse_format(options->calibrate_format);
    const auto& file = options->calibrate_file;
    if (!options->calibrate_emit.empty() && options->calibrate_emit != "html") {
      const std::vector<std::string> targets{"html"};
      throw InputError(fmt::format("calibrate --emit: unknown target '{}'{} (expected html)", options->calibrate_emit,
                                   util::did_you_mean(options->calibrate_emit, targets)));
    }
    const auto report = plan::run_calibration(plan::load_calibration_runs(file.empty() ? plan::default_calibration_path() : file));
    if (!options->calibrate_emit.empty()) {
      write_emitted(plan::calibration_html(report), options->calibrate_output);
    } else {
      util::print(report, format);
    }
    context.exit_code = 0;
  });
  const std::vector<CLI::Option*> training_only{seq_len, batch, threads, price, software, mtbf, restart, storage, lamb,
                                                base_lr, base_batch, measured, plan_file, describe, gpus, memory};
  command->callback([options, calibrate, training_only, precision, layout_option = layout, &context] {
    if (calibrate->parsed()) {
      return;
    }
    check_serve_options(options->serve, training_only);
    if (options->serve.serve) {
      const auto& request = options->request;
      context.exit_code = run_serve_plan(options->serve, {request.model, request.cluster, request.layout,
                                                          layout_option->count() > 0,
                                                          precision->count() > 0 ? request.precision : std::string(),
                                                          request.top, request.emit, options->output, options->format});
      return;
    }
    const auto format = util::parse_format(options->format);
    if (layout_option->count() > 0 && util::trim(options->request.layout).empty()) {
      throw InputError("--layout: empty (expected fields such as tp=8,pp=4; leave --layout out to search every layout)");
    }
    if (options->seq_len && *options->seq_len <= 0) {
      throw InputError(fmt::format("--seq-len must be > 0 (got {})", *options->seq_len));
    }
    if (options->global_batch && *options->global_batch <= 0) {
      throw InputError(fmt::format("--global-batch must be > 0 (got {})", *options->global_batch));
    }
    if (!options->measured.empty()) {
      context.exit_code = run_rebalance(*options, format);
      return;
    }
    if (options->describe || options->gpus || options->memory) {
      context.exit_code = run_describe_or_memory(*options, format);
      return;
    }
    if (options->request.threads < 1) { // --top: plan::check_plan_request, with its upper bound
      throw InputError("--threads must be >= 1");
    }
    context.exit_code = run_search(*options, format);
  });
}

} // namespace brix::cli
