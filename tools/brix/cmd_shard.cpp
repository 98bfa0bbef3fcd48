// brix shard: place a plan's ranks on nodes (groups, layers, CPUs, adapters, environment), and
// reshard Hugging Face checkpoints for it.
#include "command.hpp"

#include <brix/plan/plan_file.hpp>
#include <brix/plan/plan_inputs.hpp>
#include <brix/shard/rank_generator.hpp>
#include <brix/shard/rank_report.hpp>
#include <brix/shard/reshard.hpp>
#include <brix/shard/reshard_report.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>
#include <brix/util/print.hpp>
#include <brix/util/strings.hpp>
#include <brix/util/thread_pool.hpp>

#include <fmt/format.h>
#include <iostream>
#include <memory>

namespace brix::cli {

namespace {

struct RankMapOptions {
  std::string plan;
  std::vector<std::string> nodes;
  std::string order{shard::k_default_order};
  std::string hostfile;
  std::string format;
};

int run_rank_map(const RankMapOptions& options) {
  const auto format = util::parse_format(options.format);
  if (options.plan.empty()) {
    throw InputError("shard: --plan is required (a plan.yaml from brix plan --emit yaml)");
  }
  const auto order = shard::parse_order(options.order);
  const auto plan = plan::load_plan_file(options.plan);
  const auto model = plan::load_plan_model(plan);
  const auto nodes = shard::load_plan_nodes(plan, options.nodes);
  const auto map = shard::build_rank_map(plan, nodes, order, model.layers, model.moe.has_value());
  if (!options.hostfile.empty()) {
    util::write_file_atomically(options.hostfile, shard::slurm_hostfile(map));
  }
  util::print(map, format);
  return 0;
}

struct WeightsOptions {
  std::string plan;
  std::string in;
  std::string out;
  unsigned threads = 0;
  std::string format;
};

unsigned threads_or_default(unsigned threads) { return threads > 0 ? threads : util::default_threads(); }

int run_weights(const WeightsOptions& options) {
  const auto format = util::parse_format(options.format);
  const auto plan = plan::load_plan_file(options.plan);
  const auto job = shard::prepare_reshard(plan, options.in);
  const auto stats = shard::write_reshard(job.checkpoint, job.plan, plan, job.model, options.out,
                                          threads_or_default(options.threads));
  util::print(shard::ReshardSummary{"wrote", options.out, stats}, format);
  return 0;
}

int run_merge(const WeightsOptions& options) {
  const auto format = util::parse_format(options.format);
  const auto stats = shard::merge_shards(options.in, options.out, threads_or_default(options.threads));
  util::print(shard::ReshardSummary{"rebuilt", options.out, stats}, format);
  return 0;
}

void add_weights_commands(CLI::App& command, CommandContext& context) {
  auto weights = command.add_subcommand(
      "weights", "Reshard a Hugging Face safetensors checkpoint: one file per (pp, tp, ep) rank + brix-shards.json");
  auto options = std::make_shared<WeightsOptions>();
  weights->add_option("--plan", options->plan, "plan.yaml")->required();
  weights->add_option("--in", options->in, "Hugging Face checkpoint folder (safetensors + index)")->required();
  weights->add_option("--out", options->out, "Output folder (must not exist)")->required();
  weights->add_option("--threads", options->threads, "Worker threads (default: all cores)");
  add_format_option(*weights, options->format);
  weights->callback([options, &context] { context.exit_code = run_weights(*options); });

  auto merge = command.add_subcommand("merge", "Rebuild the original checkpoint files, bit for bit, from shards");
  auto merge_options = std::make_shared<WeightsOptions>();
  merge->add_option("--in", merge_options->in, "Folder written by brix shard weights")->required();
  merge->add_option("--out", merge_options->out, "Output folder (must not exist)")->required();
  merge->add_option("--threads", merge_options->threads, "Worker threads (default: all cores)");
  add_format_option(*merge, merge_options->format);
  merge->callback([merge_options, &context] { context.exit_code = run_merge(*merge_options); });
}

} // namespace

void add_shard_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand(
      "shard", "Place a plan's ranks on nodes: groups, layers, CPUs, adapters, environment");
  auto options = std::make_shared<RankMapOptions>();
  command->add_option("--plan", options->plan, "plan.yaml (brix plan --emit yaml)");
  command->add_option("--nodes", options->nodes,
                      "Cluster files or probe reports to place ranks on, in rank order (default: "
                      "the plan's cluster)");
  command->add_option("--order", options->order, "Rank order, fastest first (Megatron-LM's)")
      ->default_str(std::string(shard::k_default_order));
  command->add_option("--hostfile", options->hostfile,
                      "Also write a Slurm hostfile (one host per rank) for --distribution=arbitrary");
  add_format_option(*command, options->format);
  add_weights_commands(*command, context);
  command->require_subcommand(0, 1);
  command->callback([command, options, &context] {
    if (command->get_subcommands().empty()) {
      context.exit_code = run_rank_map(*options);
    }
  });
}

} // namespace brix::cli
