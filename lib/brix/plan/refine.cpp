#include <brix/plan/refine.hpp>

#include <brix/plan/search_detail.hpp>
#include <brix/plan/stage_partition.hpp>

namespace brix::plan {

using namespace detail;

namespace {

/// Step estimate for a given split (first decoder layer of each stage).
StepEstimate step_for_split(const Evaluator& eval, const Layout& layout, std::span<const StageSpan> spans,
                            const LayerCost& dense, const LayerCost& moe, const LayerCost& embedding,
                            const LayerCost& head, const Placement& placement) {
  std::vector<StageWork> work;
  for (int s = 0; s < layout.pp; ++s) {
    work.push_back(stage_work(eval.model(), spans[static_cast<std::size_t>(s)], s, layout.pp));
  }
  StepInputs inputs;
  inputs.context = &eval.context();
  inputs.layout = &layout;
  inputs.placement = &placement;
  inputs.dense = &dense;
  inputs.moe = &moe;
  inputs.embedding = &embedding;
  inputs.head = &head;
  inputs.global_batch = eval.options().shape.global_batch;
  inputs.grad_wire_bytes = eval.grad_wire_bytes(layout.grad_compression);
  return estimate_step(inputs, work);
}

double stage_seconds(const LayerCost& cost, Recompute recompute) {
  const double extra = recompute == Recompute::full ? cost.recompute_full_s
                                                    : (recompute == Recompute::selective ? cost.recompute_selective_s : 0.0);
  const double comm_passes = recompute == Recompute::full ? 3.0 : 2.0;
  return cost.forward_s + cost.backward_s + extra + comm_passes * (cost.tp_comm_s + cost.ep_comm_s);
}

} // namespace

PlanDetails refine_plan(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, const SearchOptions& options,
                        const CheckpointOptions& checkpoint, PlanEstimate& plan) {
  const Evaluator eval(model, cluster, options);
  const auto& layout = plan.layout;
  const auto& gpu = eval.target().group.gpu;
  const auto placement = place_groups(layout, eval.target().group.gpus_per_node);
  const auto& context = eval.context();
  const LayerCost dense = layer_cost(context, layout, placement, false);
  const LayerCost moe = model.moe ? layer_cost(context, layout, placement, true) : dense;
  const LayerCost embedding = embedding_cost(context, layout, placement);
  const LayerCost head = head_cost(context, layout, placement);
  PlanDetails details;

  // Chain of decoder layers; the embedding and head ride on the first and last layer.
  const auto uniform = uniform_stages(model, layout.pp);
  std::vector<ChainItem> items;
  for (std::int64_t layer = 0; layer < model.layers; ++layer) {
    const bool is_moe = model.is_moe_layer(layer);
    StageSpan one;
    one.first_layer = static_cast<int>(layer);
    one.last_layer = static_cast<int>(layer);
    const auto memory = stage_memory(model, gpu, layout, options.shape, 0, one);
    items.push_back({stage_seconds(is_moe ? moe : dense, layout.recompute), memory.weights + memory.grads + memory.optimizer,
                     memory.activations / std::max(1.0, memory.in_flight)});
  }
  items.front().time += stage_seconds(embedding, layout.recompute);
  items.back().time += stage_seconds(head, layout.recompute);
  std::vector<StageDevice> devices;
  for (int s = 0; s < layout.pp; ++s) {
    StageSpan span = uniform[static_cast<std::size_t>(s)];
    const auto memory = stage_memory(model, gpu, layout, options.shape, s, span);
    // Budget for layers: capacity less the fixed costs and the embedding/head states.
    StageSpan ends;
    ends.first_layer = 0;
    ends.last_layer = -1;
    ends.embedding = span.embedding;
    ends.head = span.head;
    const auto fixed = stage_memory(model, gpu, layout, options.shape, s, ends);
    devices.push_back({1.0, memory.capacity - fixed.total, std::max(1.0, memory.in_flight)});
  }
  const auto first = [&] {
    std::vector<int> out;
    for (const auto& span : uniform) {
      out.push_back(span.first_layer);
    }
    return out;
  }();

  std::vector<StageSpan> chosen = uniform;
  details.uniform_step_s = plan.step.step_s;
  details.balanced_step_s = plan.step.step_s;
  if (layout.pp > 1) {
    if (const auto split = partition_stages(items, devices); split && split->first != first) {
      std::vector<StageSpan> spans;
      for (int s = 0; s < layout.pp; ++s) {
        StageSpan span;
        span.first_layer = split->first[static_cast<std::size_t>(s)];
        span.last_layer = (s + 1 < layout.pp ? split->first[static_cast<std::size_t>(s + 1)] : static_cast<int>(model.layers)) - 1;
        span.embedding = s == 0;
        span.head = s + 1 == layout.pp;
        spans.push_back(span);
      }
      const auto step = step_for_split(eval, layout, spans, dense, moe, embedding, head, placement);
      bool fits = true;
      for (int s = 0; s < layout.pp; ++s) {
        fits = fits && stage_memory(model, gpu, layout, options.shape, s, spans[static_cast<std::size_t>(s)]).fits();
      }
      if (fits && step.step_s < plan.step.step_s) {
        details.balanced_step_s = step.step_s;
        details.split_is_uniform = false;
        chosen = spans;
        plan = eval.finish(layout, step, plan.memory);
      }
    }
  }
  int critical_memory_stage = 0;
  double worst = 0;
  for (int s = 0; s < layout.pp; ++s) {
    const auto& span = chosen[static_cast<std::size_t>(s)];
    const auto memory = stage_memory(model, gpu, layout, options.shape, s, span);
    double time = 0;
    for (int layer = span.first_layer; layer <= span.last_layer; ++layer) {
      time += items[static_cast<std::size_t>(layer)].time;
    }
    details.stages.push_back({span.first_layer, span.last_layer, eval.target().group.name, time, memory.total});
    if (memory.total > worst) {
      worst = memory.total;
      critical_memory_stage = s;
    }
  }
  details.recompute = recompute_report(model, gpu, layout, options.shape, dense, moe, critical_memory_stage,
                                       chosen[static_cast<std::size_t>(critical_memory_stage)]);

  details.checkpoint = checkpoint_for(model, cluster, eval.target().gpus, checkpoint, details.checkpoint_bytes);
  if (const auto split = split_batch(options.shape.global_batch, layout.micro_batch, layout.dp)) {
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
  if (details.split_is_uniform || stages < 2) {
    return {};
  }
  const auto first = details.stages.front().last_layer - details.stages.front().first_layer + 1;
  const auto last = details.stages.back().last_layer - details.stages.back().first_layer + 1;
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
