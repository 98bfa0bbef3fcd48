#include <brix/plan/search_detail.hpp>

namespace brix::plan {

using namespace detail;

LayoutVerdict explain_layout(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                             const SearchOptions& options, const Layout& requested) {
  const Evaluator eval(model, cluster, options);
  Layout layout = requested;
  layout.precision = options.precision;
  layout.flash_attention = options.software.flash_attention;
  LayoutVerdict verdict;
  auto& problems = verdict.problems;
  const int gpus = eval.target().gpus;
  const std::int64_t batch = options.shape.global_batch;

  if (layout.world() != gpus) {
    problems.push_back(fmt::format("TP×CP×PP×DP = {}×{}×{}×{} = {} ranks, but the cluster has {} GPUs",
                                   layout.tp, layout.cp, layout.pp, layout.dp, layout.world(), gpus));
  }
  if (layout.tp > eval.domain()) {
    problems.push_back(describe({Reason::tp_crosses_node, layout.tp, eval.domain()}, eval));
  }
  if (model.heads % layout.tp != 0) {
    problems.push_back(describe({Reason::tp_heads, layout.tp}, eval));
  }
  if (layout.cp > 1 && options.shape.seq_len % (2 * layout.cp) != 0) {
    problems.push_back(describe({Reason::cp_sequence, layout.cp}, eval));
  }
  if (layout.pp > model.layers) {
    problems.push_back(describe({Reason::pp_layers, layout.pp}, eval));
  }
  if (model.moe ? model.moe->routed_experts % layout.ep != 0 : layout.ep != 1) {
    problems.push_back(describe({Reason::ep_experts, layout.ep}, eval));
  }
  if ((layout.tp * layout.cp * layout.dp) % (layout.ep * layout.etp) != 0) {
    problems.push_back(describe({Reason::ep_group, layout.ep * layout.etp, layout.tp * layout.cp * layout.dp}, eval));
  }
  const std::int64_t per_step = static_cast<std::int64_t>(layout.dp) * layout.micro_batch;
  if (batch % per_step != 0) {
    problems.push_back(fmt::format("global batch {} is not divisible by DP×micro-batch = {}", batch, per_step));
  }
  if (!problems.empty() && (layout.pp > model.layers || model.heads % layout.tp != 0 ||
                            (model.moe && model.moe->routed_experts % layout.ep != 0))) {
    return verdict; // not evaluable
  }
  const std::int64_t micro_batches = std::max<std::int64_t>(1, batch / per_step);
  if (layout.schedule == Schedule::interleaved &&
      (micro_batches % layout.pp != 0 || model.layers < static_cast<std::int64_t>(layout.pp) * layout.vpp)) {
    problems.push_back(describe({Reason::interleave, layout.pp, layout.vpp}, eval));
  }
  if (layout.schedule == Schedule::dualpipe && (layout.pp % 2 != 0 || micro_batches < 2 * layout.pp)) {
    problems.push_back(describe({Reason::dualpipe, layout.pp}, eval));
  }

  // Memory of every stage, the worst reported with its breakdown.
  const auto stages = eval.stages(layout.pp);
  MemoryEstimate worst;
  for (int s = 0; s < layout.pp; ++s) {
    const auto stage = stage_memory(model, eval.target().group.gpu, layout, options.shape, s,
                                    stages.spans[static_cast<std::size_t>(s)]);
    if (stage.total > worst.total) {
      worst = MemoryEstimate{stage.weights, stage.grads, stage.optimizer, stage.activations, stage.other, stage.total, s};
    }
  }
  const double limit = eval.memory_limit();
  if (worst.total > limit) {
    problems.push_back(fmt::format(
        "out of memory on stage {}: needs {:.1f} GiB per GPU, the GPU has {:.1f} GiB (over by {:.1f} GiB: weights "
        "{:.1f}, grads {:.1f}, optimizer {:.1f}, activations {:.1f}, other {:.1f})",
        worst.stage, worst.total / k_gib, limit / k_gib, (worst.total - limit) / k_gib, worst.weights / k_gib,
        worst.grads / k_gib, worst.optimizer / k_gib, worst.activations / k_gib, worst.other / k_gib));
  }

  const auto placement = place_groups(layout, eval.target().group.gpus_per_node);
  const auto& context = eval.context();
  const LayerCost dense = layer_cost(context, layout, placement, false);
  const LayerCost moe = model.moe ? layer_cost(context, layout, placement, true) : dense;
  const LayerCost embedding = embedding_cost(context, layout, placement);
  const LayerCost head = head_cost(context, layout, placement);
  StepInputs inputs;
  inputs.context = &context;
  inputs.layout = &layout;
  inputs.placement = &placement;
  inputs.dense = &dense;
  inputs.moe = &moe;
  inputs.embedding = &embedding;
  inputs.head = &head;
  inputs.global_batch = batch;
  inputs.grad_wire_bytes = eval.grad_wire_bytes(layout.grad_compression);
  const auto step = estimate_step(inputs, stages.work);
  verdict.estimate = eval.finish(layout, step, worst);
  return verdict;
}

} // namespace brix::plan
