// brix plan: model and cluster summaries, the GPU catalog, and the per-stage memory of a layout.
#include "command.hpp"

#include <brix/cluster/gpu_catalog.hpp>
#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/report.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>

#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <vector>
#include <unistd.h>

namespace brix::cli {

namespace {

struct PlanOptions {
  std::string model = "deepseek-r1";
  cluster::ClusterChoice cluster;
  std::optional<std::int64_t> seq_len;
  std::int64_t global_batch = 1024;
  std::string layout = "tp=8,pp=4,dp=2";
  bool describe = false;
  bool gpus = false;
  std::string format;
};

int run_plan(const PlanOptions& options) {
  const auto format = util::parse_format(options.format);
  const util::Style style{util::use_colour(STDOUT_FILENO)};
  if (options.gpus) {
    if (format == util::Format::text) {
      std::cout << plan::gpu_catalog_text();
    } else {
      util::emit_document(std::cout, plan::gpu_catalog_json(), format);
    }
    return 0;
  }
  const auto model = model::load_model(options.model);
  const std::int64_t seq_len = options.seq_len.value_or(model.default_seq_len);
  if (seq_len <= 0) {
    throw InputError(fmt::format("--seq-len must be > 0 (got {})", seq_len));
  }
  if (options.describe) {
    if (format == util::Format::text) {
      std::cout << plan::model_summary_text(model, seq_len, style);
    } else {
      util::emit_document(std::cout, plan::model_summary_json(model, seq_len), format);
    }
    return 0;
  }
  if (options.global_batch <= 0) {
    throw InputError(fmt::format("--global-batch must be > 0 (got {})", options.global_batch));
  }
  const auto cluster = cluster::select_cluster(options.cluster, "example-deployment");
  const auto layout = plan::parse_layout(options.layout);
  const auto report = plan::layout_memory_report(
      model, cluster, layout, plan::TrainingShape{options.global_batch, seq_len});
  if (report.check != plan::LayoutCheck::none) {
    throw InputError(fmt::format("--layout {}: invalid on {} ({} GPUs): {}", options.layout,
                                 cluster.name, cluster.total_gpus(), report.check_message));
  }
  if (format == util::Format::text) {
    std::cout << plan::model_summary_text(model, seq_len, style) << '\n'
              << plan::cluster_summary_text(cluster, style) << '\n'
              << plan::layout_memory_text(report, style);
  } else {
    nlohmann::ordered_json doc;
    doc["model"] = plan::model_summary_json(model, seq_len);
    doc["cluster"] = plan::cluster_summary_json(cluster);
    doc["memory"] = plan::layout_memory_json(report);
    util::emit_document(std::cout, doc, format);
  }
  return 0;
}

} // namespace

void add_plan_command(CLI::App& app, CommandContext& context) {
  auto options = std::make_shared<PlanOptions>();
  auto* command = app.add_subcommand(
      "plan", "Describe a model and a cluster and check the memory of a parallel layout");
  auto* model = command->add_option("--model", options->model,
                                    "Bundled model name or a path to a HF config.json / brix model YAML")
                    ->default_str("deepseek-r1");
  std::vector<CLI::Option*> cluster_options{
      command->add_option("--cluster", options->cluster.cluster,
                          "Bundled cluster name or a cluster YAML (default example-deployment)"),
      command->add_option("--nodes", options->cluster.nodes, "Shorthand cluster: number of nodes"),
      command->add_option("--gpus-per-node", options->cluster.gpus_per_node,
                          "Shorthand cluster: GPUs per node (default: the GPU's usual node)"),
      command->add_option("--gpu", options->cluster.gpu, "Shorthand cluster: GPU catalog id (see --gpus)"),
      command->add_option("--nics-per-node", options->cluster.nics_per_node,
                          "Shorthand cluster: compute adapters per node (default: the usual node)"),
      command->add_option("--nic-gbps", options->cluster.nic_gbps,
                          "Shorthand cluster: Gb/s per adapter (default: the usual node)")};
  cluster_options[0]->excludes(cluster_options[1]);
  auto* seq_len = command->add_option("--seq-len", options->seq_len,
                                      "Training sequence length (default: the model's)");
  auto* batch = command->add_option("--global-batch", options->global_batch, "Sequences per step")
                    ->default_str("1024");
  auto* layout = command->add_option("--layout", options->layout,
                                     "Parallel layout: tp=,pp=,dp=,ep=,etp=,cp=,sp=,mbs=,vpp=,"
                                     "schedule=,recompute=,zero=,precision=,flash=")
                     ->default_str("tp=8,pp=4,dp=2");
  auto* describe = command->add_flag("--describe", options->describe, "Print the model summary only");
  auto* gpus = command->add_flag("--gpus", options->gpus, "List the GPU catalog");
  // Options that would be parsed but not used are refused instead.
  for (auto* option : cluster_options) {
    describe->excludes(option);
    gpus->excludes(option);
  }
  for (auto* option : {batch, layout}) {
    describe->excludes(option);
    gpus->excludes(option);
  }
  for (auto* option : {model, seq_len, describe}) {
    gpus->excludes(option);
  }
  add_format_option(*command, options->format);
  command->callback([options, &context] { context.exit_code = run_plan(*options); });
}

} // namespace brix::cli
