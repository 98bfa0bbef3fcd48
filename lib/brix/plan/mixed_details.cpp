#include <brix/plan/mixed.hpp>

#include <brix/plan/group_costs.hpp>

#include <brix/plan/search_detail.hpp>

#include <stdexcept>

namespace brix::plan {

namespace {

const cluster::NodeGroup& group_named(const cluster::ClusterSpec& cluster, const std::string& name) {
  for (const auto& group : cluster.groups) {
    if (group.name == name) {
      return group;
    }
  }
  throw std::logic_error("mixed plan names an unknown node group " + name);
}

StageSpan span_of(const MixedPlan& plan, std::size_t stage) {
  StageSpan span;
  span.first_layer = plan.stages[stage].first_layer;
  span.last_layer = plan.stages[stage].last_layer;
  span.embedding = stage == 0;
  span.head = stage + 1 == plan.stages.size();
  return span;
}

/// Stage `s` on its own node group's GPUs and links: memory by kind and one micro-batch's passes.
StageDetail stage_detail(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, const SearchOptions& options,
                         const MixedPlan& plan, std::size_t s) {
  const auto& stage = plan.stages[s];
  const auto& layout = plan.layout;
  const auto& group = group_named(cluster, stage.node_group);
  // The passes as the mixed search's layer chain charges them (layer_chain_seconds): its 1F1B
  // with PP > 1 waits for the expert all-to-all, as Megatron-Core does (combined_1f1b_runs).
  const auto context = group_cost_context(model, cluster, group, options);
  const auto placement = place_groups(layout, group.gpus_per_node);
  const detail::CostedLayout costs(model, context, layout, placement);
  const auto inputs = costs.step_inputs(options.shape.global_batch, options.software.grad_reduce_bytes);
  const auto span = span_of(plan, s);
  const int index = static_cast<int>(s);
  const auto memory = stage_memory(model, group.gpu, layout, options.shape, index, span);
  return {stage.first_layer, stage.last_layer,          stage.node_group,
          stage.time_s,      stage.memory_bytes,        detail::memory_estimate(memory, index),
          group.gpu.memory_bytes, stage_times(inputs, detail::stage_work(model, span, index, layout.pp)),
          stage.data_parallel_s};
}

} // namespace

PlanEstimate mixed_estimate(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, const SearchOptions& options,
                            const MixedPlan& plan) {
  const auto& layout = plan.layout;
  const double m = static_cast<double>(plan.micro_batches);
  PlanEstimate estimate;
  estimate.layout = layout;
  auto& step = estimate.step;
  // Each stage in the pipeline with the ZeRO traffic its micro-batches expose (plan_mixed).
  double sum = 0, slowest = 0;
  for (const auto& stage : plan.stages) {
    sum += stage.time_s + stage.data_parallel_s + plan.transfer_s;
    slowest = std::max(slowest, stage.time_s + stage.data_parallel_s + plan.transfer_s);
  }
  step.step_s = plan.step_s;
  step.bubble_s = sum - slowest; // 1F1B over unequal stages: fill and drain cost the others once
  step.pipeline_s = (m - 1.0) * slowest + sum;
  step.optimizer_s = plan.data_parallel.optimizer_s;
  step.bubble_fraction = plan.step_s > 0 ? step.bubble_s / plan.step_s : 0.0;
  step.critical_stage = plan.critical_stage;
  step.critical_stage_s = slowest;
  step.comm.dp = plan.data_parallel.pipeline_extra_s + plan.data_parallel.exposed_s;
  step.comm.pp = m * plan.transfer_s;

  // Per stage on its own group's GPUs: executed FLOPs; the slowest stage's exposed TP/EP/CP.
  double peak = 0;
  for (const auto& group : cluster.groups) {
    peak += group.gpus() * group.gpu.bf16_flops;
  }
  double flops_per_micro_batch = 0;
  double tightest = -1;
  for (std::size_t s = 0; s < plan.stages.size(); ++s) {
    const auto& group = group_named(cluster, plan.stages[s].node_group);
    const auto context = group_cost_context(model, cluster, group, options);
    const auto placement = place_groups(layout, group.nvlink_reach());
    const auto span = span_of(plan, s);
    const auto work = detail::stage_work(model, span, static_cast<int>(s), layout.pp);
    LayerPassTotals totals;
    add_layer_totals(totals, layer_cost(context, layout, placement, false), work.dense_layers, layout);
    if (work.moe_layers > 0) {
      add_layer_totals(totals, layer_cost(context, layout, placement, true), work.moe_layers, layout);
    }
    if (span.embedding) {
      add_layer_totals(totals, embedding_cost(context, layout, placement), 1, layout);
    }
    if (span.head) {
      add_layer_totals(totals, head_cost(context, layout, placement), 1, layout);
    }
    flops_per_micro_batch += totals.flops;
    if (static_cast<int>(s) == plan.critical_stage) {
      step.comm.tp = m * totals.tp;
      step.comm.ep = m * totals.ep;
      step.comm.cp = m * totals.cp;
    }
    const auto memory = stage_memory(model, group.gpu, layout, options.shape, static_cast<int>(s), span, options.software);
    if (const double share = memory.total / group.gpu.memory_bytes; share > tightest) {
      tightest = share;
      estimate.memory = detail::memory_estimate(memory, static_cast<int>(s));
    }
  }
  // Every stage's work on every micro-batch of every data-parallel replica (tp·cp GPUs each).
  step.hardware_flops = flops_per_micro_batch * m * layout.dp * layout.cp * layout.tp;
  const double gpus = cluster.total_gpus();
  estimate.tokens_per_s = plan.tokens_per_s;
  estimate.mfu = plan.mfu;
  estimate.tflops_per_gpu = step.hardware_flops / plan.step_s / gpus / 1e12;
  estimate.hfu = step.hardware_flops / plan.step_s / peak;
  return estimate;
}

PlanDetails mixed_details(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, const SearchOptions& options,
                          const CheckpointOptions& checkpoint, const MixedPlan& plan) {
  PlanDetails details;
  const auto& layout = plan.layout;
  const auto uniform = uniform_partition(static_cast<int>(model.layers), layout.pp);
  details.split_is_uniform = true;
  for (std::size_t s = 0; s < plan.stages.size(); ++s) {
    const auto& stage = plan.stages[s];
    details.stages.push_back(stage_detail(model, cluster, options, plan, s));
    details.split_is_uniform = details.split_is_uniform && s < uniform.size() && uniform[s] == stage.first_layer;
  }
  details.uniform_step_s = plan.uniform_step_s.value_or(0.0); // PlanDetails: 0 = does not fit
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
    const auto context = group_cost_context(model, cluster, *critical_group, options);
    const auto placement = place_groups(layout, critical_group->nvlink_reach());
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
  if (const auto split = BatchSplit::of(options.shape.global_batch, layout.micro_batch, layout.dp)) {
    details.batch = *split;
  }
  return details;
}

} // namespace brix::plan
