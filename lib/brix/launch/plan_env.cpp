#include <brix/launch/plan_env.hpp>

#include <brix/plan/plan_inputs.hpp>
#include <brix/shard/rank_generator.hpp>
#include <brix/shard/rank_map.hpp>
#include <brix/util/error.hpp>

#include <fmt/format.h>

namespace brix::launch {

LaunchPlan load_launch_plan(const std::string& path) {
  LaunchPlan result;
  result.plan = plan::load_plan_file(path);
  result.decoder_layers = plan::load_plan_model(result.plan).layers;
  result.path = path;
  return result;
}

int plan_nproc_per_node(const LaunchPlan& plan, int nnodes) {
  const int world = plan.world_size();
  if (nnodes <= 0 || world % nnodes != 0) {
    throw InputError(fmt::format("{}: the plan's {} ranks do not split evenly over {} nodes "
                                 "(give --nproc-per-node)",
                                 plan.path, world, nnodes));
  }
  return world / nnodes;
}

std::vector<std::map<std::string, std::string>> plan_environment(const LaunchPlan& launch_plan,
                                                                 const World& world) {
  const auto& layout = launch_plan.plan.layout;
  if (world.world_size() != layout.world()) {
    throw InputError(fmt::format("{}: the plan needs {} ranks (tp {} × cp {} × dp {} × pp {}) but "
                                 "this job has {} on {} node(s)",
                                 launch_plan.path, layout.world(), layout.tp, layout.cp, layout.dp,
                                 layout.pp, world.world_size(), world.nodes.size()));
  }
  // The launched nodes, as the rank map sees them: their workers are their GPUs.
  std::vector<shard::ClusterNode> nodes;
  for (const auto& node : world.nodes) {
    shard::ClusterNode cluster_node;
    cluster_node.name = node.node;
    cluster_node.named = true;
    cluster_node.gpus = node.nproc;
    nodes.push_back(std::move(cluster_node));
  }
  const auto map =
      shard::build_rank_map(launch_plan.plan, nodes, shard::parse_order(shard::k_default_order),
                            launch_plan.decoder_layers);
  std::vector<std::map<std::string, std::string>> envs;
  for (const auto& rank : map.ranks) {
    std::string layers;
    // One entry per virtual stage; "none" for one that holds only the embedding or the loss.
    for (std::size_t i = 0; i < rank.stages.size(); ++i) {
      const auto& stage = rank.stages[i];
      layers += i == 0 ? "" : ",";
      layers += stage.last_layer < stage.first_layer
                    ? std::string("none")
                    : fmt::format("{}-{}", stage.first_layer, stage.last_layer);
    }
    envs.push_back({
        {"BRIX_PLAN", launch_plan.path},
        {"BRIX_TP", std::to_string(layout.tp)},
        {"BRIX_PP", std::to_string(layout.pp)},
        {"BRIX_DP", std::to_string(layout.dp)},
        {"BRIX_CP", std::to_string(layout.cp)},
        {"BRIX_EP", std::to_string(layout.ep)},
        {"BRIX_ETP", std::to_string(layout.etp)},
        {"BRIX_VPP", std::to_string(layout.vpp)},
        {"BRIX_TP_RANK", std::to_string(rank.tp)},
        {"BRIX_PP_RANK", std::to_string(rank.pp)},
        {"BRIX_DP_RANK", std::to_string(rank.dp)},
        {"BRIX_CP_RANK", std::to_string(rank.cp)},
        {"BRIX_EP_RANK", std::to_string(rank.ep)},
        {"BRIX_EXPERT_TP_RANK", std::to_string(rank.expert_tp)},
        {"BRIX_EXPERT_DP_RANK", std::to_string(rank.expert_dp)},
        {"BRIX_LAYERS", layers},
        {"BRIX_MICRO_BATCH", std::to_string(launch_plan.plan.batch.micro)},
        {"BRIX_GLOBAL_BATCH", std::to_string(launch_plan.plan.batch.global)},
        {"BRIX_SEQ_LEN", std::to_string(launch_plan.plan.seq_len)},
    });
  }
  return envs;
}

} // namespace brix::launch
