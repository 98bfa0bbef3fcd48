#include <brix/plan/stage_balance.hpp>

#include <brix/plan/stage_partition.hpp>

namespace brix::plan::detail {

StepEstimate step_for_split(const Evaluator& eval, const Layout& layout, std::span<const StageSpan> spans,
                            const LayoutCosts& costs) {
  std::vector<StageWork> work;
  work.reserve(spans.size());
  for (int s = 0; s < layout.pp; ++s) {
    work.push_back(stage_work(eval.model(), spans[static_cast<std::size_t>(s)], s, layout.pp));
  }
  StepInputs inputs;
  inputs.context = &eval.context();
  inputs.layout = &layout;
  inputs.placement = costs.placement;
  inputs.dense = costs.dense;
  inputs.moe = costs.moe;
  inputs.embedding = costs.embedding;
  inputs.head = costs.head;
  inputs.global_batch = eval.options().shape.global_batch;
  inputs.grad_wire_bytes = eval.grad_wire_bytes(layout.grad_compression);
  return estimate_step(inputs, work);
}

bool rebalanced(const Layout& layout) {
  // Counting the embedding and loss as layers is Megatron's own split rule; its flags cannot be
  // combined with first/last stage sizes.
  return layout.pp > 1 && layout.schedule != Schedule::interleaved && !layout.pp_embedding && !layout.pp_loss;
}

double split_lower_bound(const Layout& layout, const StepEstimate& step, std::int64_t micro_batches) {
  if (!rebalanced(layout)) {
    return step.step_s;
  }
  // estimate_step: pipeline = m·max + bubble, max >= sum/pp, and the bubble of the schedule is
  // at least (sum − max) for 1F1B, (sum − max)/3 for ZB-H1, 0 for DualPipe; each total grows
  // with max (m >= 1), so max = mean bounds it from below.
  const double m = static_cast<double>(micro_batches);
  const double sum = step.stage_sum_s;
  const double mean = sum / layout.pp;
  switch (layout.schedule) {
  case Schedule::one_f_one_b:
    return m * mean + (sum - mean);
  case Schedule::zb_h1:
    return m * mean + (sum - mean) / 3.0;
  case Schedule::dualpipe:
  case Schedule::interleaved:
    break;
  }
  return m * mean;
}

std::vector<StageSpan> spans_from_first(std::span<const int> first, std::int64_t layers) {
  std::vector<StageSpan> spans;
  spans.reserve(first.size());
  for (std::size_t s = 0; s < first.size(); ++s) {
    StageSpan span;
    span.first_layer = first[s];
    span.last_layer = (s + 1 < first.size() ? first[s + 1] : static_cast<int>(layers)) - 1;
    span.embedding = s == 0;
    span.head = s + 1 == first.size();
    spans.push_back(span);
  }
  return spans;
}

MemoryEstimate worst_stage_memory(const Evaluator& eval, const Layout& layout, std::span<const StageSpan> spans) {
  MemoryEstimate worst;
  for (std::size_t s = 0; s < spans.size(); ++s) {
    const auto stage = stage_memory(eval.model(), eval.target().group.gpu, layout, eval.options().shape, static_cast<int>(s),
                                    spans[s], eval.options().software);
    if (s == 0 || stage.total > worst.total) {
      worst = memory_estimate(stage, static_cast<int>(s));
    }
  }
  return worst;
}

std::optional<BalancedSplit> balance_stages(const Evaluator& eval, const Layout& layout, const LayoutCosts& costs,
                                            std::span<const StageSpan> uniform, double uniform_step_s) {
  if (!rebalanced(layout)) {
    return std::nullopt;
  }
  const auto& model = eval.model();
  const auto& gpu = eval.target().group.gpu;
  const auto& shape = eval.options().shape;
  const int pp = layout.pp;

  // Chain of decoder layers; the embedding and head ride on the first and last layer. All
  // layers of one kind (dense, MoE) cost and weigh the same, so each kind is costed once.
  std::optional<ChainItem> kinds[2];
  std::vector<ChainItem> items;
  items.reserve(static_cast<std::size_t>(model.layers));
  for (std::int64_t layer = 0; layer < model.layers; ++layer) {
    const bool is_moe = model.is_moe_layer(layer);
    auto& kind = kinds[is_moe ? 1 : 0];
    if (!kind) {
      StageSpan one;
      one.first_layer = static_cast<int>(layer);
      one.last_layer = static_cast<int>(layer);
      const auto memory = stage_memory(model, gpu, layout, shape, 0, one, eval.options().software);
      kind = ChainItem{layer_chain_seconds(is_moe ? *costs.moe : *costs.dense, layout.recompute),
                       memory.weights + memory.grads + memory.optimizer,
                       memory.activations / std::max(1.0, memory.in_flight)};
    }
    items.push_back(*kind);
  }
  items.front().time += layer_chain_seconds(*costs.embedding, layout.recompute);
  items.back().time += layer_chain_seconds(*costs.head, layout.recompute);

  // Each stage's budget for layers: capacity less its fixed costs and the embedding/head states
  // (the same for every middle stage).
  auto fixed_bytes = [&](int s) {
    StageSpan ends;
    ends.first_layer = 0;
    ends.last_layer = -1;
    ends.embedding = s == 0;
    ends.head = s == pp - 1;
    return stage_memory(model, gpu, layout, shape, s, ends, eval.options().software).total;
  };
  const double fixed_first = fixed_bytes(0);
  const double fixed_last = fixed_bytes(pp - 1);
  const double fixed_middle = pp > 2 ? fixed_bytes(1) : 0.0;
  std::vector<StageDevice> devices;
  devices.reserve(static_cast<std::size_t>(pp));
  for (int s = 0; s < pp; ++s) {
    const double fixed = s == 0 ? fixed_first : (s == pp - 1 ? fixed_last : fixed_middle);
    const int extra = overlap_warmup_chunks(model, layout, eval.options().software);
    devices.push_back({1.0, gpu.memory_bytes - fixed, std::max(1.0, in_flight_micro_batches(layout, shape, s, extra))});
  }

  const auto split = partition_stages(items, devices);
  if (!split) {
    return std::nullopt;
  }
  bool same = true;
  for (int s = 0; s < pp; ++s) {
    same = same && split->first[static_cast<std::size_t>(s)] == uniform[static_cast<std::size_t>(s)].first_layer;
  }
  if (same) {
    return std::nullopt;
  }
  const auto spans = spans_from_first(split->first, model.layers);
  auto step = step_for_split(eval, layout, spans, costs);
  if (step.step_s >= uniform_step_s) {
    return std::nullopt;
  }
  const auto memory = worst_stage_memory(eval, layout, spans);
  if (memory.total > eval.memory_limit()) {
    return std::nullopt;
  }
  return BalancedSplit{split->first, step, memory};
}

} // namespace brix::plan::detail
