#include <brix/plan/mixed.hpp>

#include <brix/plan/search_detail.hpp>

namespace brix::plan {

PlanDetails mixed_details(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, const SearchOptions& options,
                          const CheckpointOptions& checkpoint, const MixedPlan& plan) {
  PlanDetails details;
  const auto& layout = plan.layout;
  const auto uniform = uniform_partition(static_cast<int>(model.layers), layout.pp);
  details.split_is_uniform = true;
  for (std::size_t s = 0; s < plan.stages.size(); ++s) {
    const auto& stage = plan.stages[s];
    details.stages.push_back({stage.first_layer, stage.last_layer, stage.node_group, stage.time_s, stage.memory_bytes});
    details.split_is_uniform = details.split_is_uniform && s < uniform.size() && uniform[s] == stage.first_layer;
  }
  details.uniform_step_s = plan.uniform_step_s;
  details.balanced_step_s = plan.step_s;

  // Recomputation where memory is tightest: the stage with the highest share of its GPU's memory,
  // costed on its own node group's GPUs and links.
  std::size_t critical = 0;
  double worst = -1;
  const cluster::NodeGroup* critical_group = nullptr;
  for (std::size_t s = 0; s < plan.stages.size(); ++s) {
    for (const auto& group : cluster.groups) {
      if (group.name == plan.stages[s].node_group) {
        const double share = plan.stages[s].memory_bytes / group.gpu.memory_bytes;
        if (share > worst) {
          worst = share;
          critical = s;
          critical_group = &group;
        }
      }
    }
  }
  if (critical_group != nullptr) {
    CostContext context;
    context.model = &model;
    context.device = device_model(*critical_group, options.precision == Precision::fp8, cluster.oversubscription);
    context.software = options.software;
    context.seq_len = options.shape.seq_len;
    const auto placement = place_groups(layout, critical_group->gpus_per_node);
    const LayerCost dense = layer_cost(context, layout, placement, false);
    const LayerCost moe = model.moe ? layer_cost(context, layout, placement, true) : dense;
    StageSpan span;
    span.first_layer = plan.stages[critical].first_layer;
    span.last_layer = plan.stages[critical].last_layer;
    span.embedding = critical == 0;
    span.head = critical + 1 == plan.stages.size();
    details.recompute = recompute_report(model, critical_group->gpu, layout, options.shape, dense, moe,
                                         static_cast<int>(critical), span);
  }
  details.checkpoint = checkpoint_for(model, cluster, cluster.total_gpus(), checkpoint, details.checkpoint_bytes);
  if (const auto split = split_batch(options.shape.global_batch, layout.micro_batch, layout.dp)) {
    details.batch = *split;
  }
  return details;
}

} // namespace brix::plan
