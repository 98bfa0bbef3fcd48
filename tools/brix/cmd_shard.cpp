// brix shard: place a plan's ranks on nodes (groups, layers, CPUs, adapters, environment), and
// reshard Hugging Face checkpoints for it.
#include "command.hpp"

#include <brix/plan/plan_file.hpp>
#include <brix/shard/plan_inputs.hpp>
#include <brix/shard/rank_generator.hpp>
#include <brix/shard/rank_report.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>

#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <unistd.h>

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
  const auto model = shard::load_plan_model(plan);
  const auto nodes = shard::load_plan_nodes(plan, options.nodes);
  const auto map = shard::build_rank_map(plan, nodes, order, model.layers);
  if (!options.hostfile.empty()) {
    util::write_file_atomically(options.hostfile, shard::slurm_hostfile(map));
  }
  if (format == util::Format::text) {
    std::cout << shard::render_rank_map_text(map, util::Style{util::use_colour(STDOUT_FILENO)});
  } else {
    util::emit_document(std::cout, shard::rank_map_to_json(map), format);
  }
  return 0;
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
  command->callback([options, &context] { context.exit_code = run_rank_map(*options); });
}

} // namespace brix::cli
