#include <brix/plan/refine.hpp>

#include <brix/plan/search_detail.hpp>
#include <brix/plan/stage_balance.hpp>

#include <algorithm>

namespace brix::plan {

using namespace detail;

PlanDetails refine_plan(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, const SearchOptions& options,
                        const CheckpointOptions& checkpoint, PlanEstimate& plan) {
  const Evaluator eval(model, cluster, options);
  const auto& layout = plan.layout;
  const auto& gpu = eval.target().group.gpu;
  const auto placement = place_groups(layout, eval.target().group.nvlink_reach());
  const CostedLayout costs(model, eval.context(), layout, placement);
  PlanDetails details;

  // The split the search chose (rebalanced by the partition DP, or Megatron's uniform one).
  const auto chosen = plan.split.empty() ? uniform_stages(model, pipeline_split(layout)) : spans_from_first(plan.split, model.layers);
  details.split_is_uniform = plan.split.empty();
  details.uniform_step_s = plan.uniform_step_s > 0 ? plan.uniform_step_s : plan.step.step_s;
  details.balanced_step_s = plan.step.step_s;
  // Memory of the worst stage of that split, every stage checked.
  plan.memory = worst_stage_memory(eval, layout, chosen);

  const auto inputs = costs.step_inputs(options.shape.global_batch, eval.grad_wire_bytes(layout.grad_compression));
  for (int s = 0; s < layout.pp; ++s) {
    const auto& span = chosen[static_cast<std::size_t>(s)];
    const auto memory = stage_memory(model, gpu, layout, options.shape, s, span, options.software);
    double time = 0;
    for (int layer = span.first_layer; layer <= span.last_layer; ++layer) {
      time += layer_chain_seconds(model.is_moe_layer(layer) ? costs.moe : costs.dense, layout.recompute);
    }
    if (s == 0) {
      time += layer_chain_seconds(costs.embedding, layout.recompute);
    }
    if (s + 1 == layout.pp) {
      time += layer_chain_seconds(costs.head, layout.recompute);
    }
    details.stages.push_back({span.first_layer, span.last_layer, eval.target().group.name, time, memory.total,
                              memory_estimate(memory, s), gpu.memory_bytes,
                              stage_times(inputs, stage_work(model, span, s, layout.pp))});
  }
  const int critical_memory_stage = plan.memory.stage;
  details.recompute = recompute_report(model, gpu, layout, options.shape, costs.dense, costs.moe, critical_memory_stage,
                                       chosen[static_cast<std::size_t>(critical_memory_stage)]);

  details.checkpoint = checkpoint_for(model, cluster, eval.target().gpus, checkpoint, details.checkpoint_bytes);
  if (const auto split = BatchSplit::of(options.shape.global_batch, layout.micro_batch, layout.dp)) {
    details.batch = *split;
  }
  return details;
}

CheckpointPlan checkpoint_for(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, int gpus,
                              const CheckpointOptions& options, double& size_bytes) {
  // bf16 weights + fp32 master weights and Adam moments = 14 B/param (MTP included).
  const auto counts = model::count_parameters(model);
  size_bytes = 14.0 * static_cast<double>(counts.total + counts.mtp);
  const auto storage = checkpoint_storage(cluster, options.storage_write_gb_per_s);
  CheckpointInputs inputs;
  inputs.gpu_mtbf_s = options.gpu_mtbf_hours * 3600.0;
  inputs.gpus = gpus;
  inputs.size_bytes = size_bytes;
  inputs.write_bytes_per_s = storage.write_bytes_per_s;
  inputs.restart_s = options.restart_overhead_s + size_bytes / storage.read_bytes_per_s;
  auto plan = plan_checkpoints(inputs);
  plan.storage = storage;
  return plan;
}

std::vector<std::string> megatron_split_flags(const PlanDetails& details, std::int64_t layers) {
  const auto stages = static_cast<std::int64_t>(details.stages.size());
  const auto size = [](const StageDetail& stage) { return stage.last_layer - stage.first_layer + 1; };
  const bool even = std::all_of(details.stages.begin(), details.stages.end(),
                                [&](const StageDetail& stage) { return size(stage) == size(details.stages.front()); });
  if (even || stages < 2) {
    return {}; // Megatron's default split
  }
  const auto first = size(details.stages.front());
  const auto last = size(details.stages.back());
  const auto middle_layers = layers - first - last;
  const auto middle_stages = stages - 2;
  if (middle_stages > 0) {
    if (middle_layers % middle_stages != 0) {
      return {};
    }
    for (std::size_t s = 1; s + 1 < details.stages.size(); ++s) {
      const auto& stage = details.stages[s];
      if (stage.last_layer - stage.first_layer + 1 != middle_layers / middle_stages) {
        return {};
      }
    }
  }
  return {fmt::format("--decoder-first-pipeline-num-layers {}", first),
          fmt::format("--decoder-last-pipeline-num-layers {}", last)};
}

} // namespace brix::plan
