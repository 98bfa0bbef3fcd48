#include <brix/plan/recompute_report.hpp>

#include <cmath>
#include <fmt/format.h>

namespace brix::plan {

std::vector<ChainStep> recompute_chain(const model::ModelSpec& model, const Layout& layout, const TrainingShape& shape,
                                       const LayerCost& dense, const LayerCost& moe, const StageSpan& span) {
  std::vector<ChainStep> chain;
  for (int layer = span.first_layer; layer <= span.last_layer; ++layer) {
    const auto& cost = model.is_moe_layer(layer) ? moe : dense;
    const auto act = layer_activation_bytes(model, layout, shape, layer);
    // k_steps_per_layer steps; their saved bytes add up to the layer's activations (act.total()).
    // 1. Input norm and projections (q/k/v or MLA down/up, the output projection folded in): input
    //    the hidden state; keeps it and the projections' inputs.
    ChainStep projections;
    projections.forward_s = cost.attention_forward_s - cost.attention_core_s;
    projections.backward_s = cost.attention_backward_s - cost.attention_core_backward_s;
    projections.input_bytes = act.layer_input;
    projections.saved_bytes = act.layer_input + act.attention_projections;
    // 2. Attention core: input q, k, v; keeps them and the scores (none with flash attention).
    //    Recomputing only this step is Megatron's selective recomputation.
    ChainStep core;
    core.forward_s = cost.attention_core_s;
    core.backward_s = cost.attention_core_backward_s;
    core.input_bytes = act.attention_core;
    core.saved_bytes = act.attention_core + act.attention_scores;
    // 3. Pre-MLP norm, MLP or router + shared and routed experts: input the hidden state (the
    //    pre-MLP norm input, counted in norms with the q/k and MLA latent norms).
    ChainStep mlp;
    mlp.forward_s = cost.forward_s - cost.attention_forward_s;
    mlp.backward_s = cost.backward_s - cost.attention_backward_s;
    mlp.input_bytes = act.layer_input;
    mlp.saved_bytes = act.norms + act.mlp + act.experts;
    chain.push_back(projections);
    chain.push_back(core);
    chain.push_back(mlp);
  }
  return chain;
}

std::string chain_step_name(int first_layer, std::size_t step) {
  static constexpr const char* k_names[k_steps_per_layer] = {"attention projections", "attention core", "mlp"};
  return fmt::format("layer {} {}", first_layer + static_cast<int>(step / k_steps_per_layer),
                     k_names[step % k_steps_per_layer]);
}

RecomputeReport recompute_report(const model::ModelSpec& model, const cluster::GpuSpec& gpu, const Layout& layout,
                                 const TrainingShape& shape, const LayerCost& dense, const LayerCost& moe, int stage,
                                 const StageSpan& span) {
  RecomputeReport report;
  report.stage = stage;
  Layout plain = layout;
  plain.recompute = Recompute::none;
  const auto memory = stage_memory(model, gpu, plain, shape, stage, span);
  const double in_flight = std::max(1.0, memory.in_flight);
  report.budget_bytes = std::max(0.0, (memory.capacity - memory.weights - memory.grads - memory.optimizer - memory.other) / in_flight);

  const auto chain = recompute_chain(model, layout, shape, dense, moe, span);
  auto add = [&](std::string name, double bytes, double time) {
    report.options.push_back({std::move(name), bytes, time, bytes <= report.budget_bytes});
  };
  const auto all = strategy_store_all(chain);
  add("none", all.peak_bytes, all.time_s);
  // Megatron's uniform policies, from the layer's own components.
  double selective_bytes = 0, full_bytes = 0, selective_time = 0, full_time = 0, widest = 0;
  for (int layer = span.first_layer; layer <= span.last_layer; ++layer) {
    const auto& cost = model.is_moe_layer(layer) ? moe : dense;
    const auto act = layer_activation_bytes(model, layout, shape, layer);
    selective_bytes += stored_activation_bytes(act, Recompute::selective);
    full_bytes += stored_activation_bytes(act, Recompute::full);
    widest = std::max(widest, act.total());
    selective_time += cost.forward_s + cost.backward_s + cost.recompute_selective_s;
    full_time += cost.forward_s + cost.backward_s + cost.recompute_full_s;
  }
  add("selective", selective_bytes, selective_time);
  add("full", full_bytes + widest, full_time);
  const int steps = static_cast<int>(chain.size());
  const int root = std::max(1, static_cast<int>(std::lround(std::sqrt(static_cast<double>(steps)))));
  const auto every4 = strategy_every_k(chain, 4);
  add(every4.name, every4.peak_bytes, every4.time_s);
  const auto sqrt_n = strategy_every_k(chain, root);
  add(fmt::format("sqrt(n) = every {} steps", root), sqrt_n.peak_bytes, sqrt_n.time_s);

  if (report.budget_bytes > 0) {
    report.dp = plan_recompute(chain, report.budget_bytes);
    if (report.dp) {
      add("rotor DP at budget", report.dp->peak_bytes, report.dp->time_s);
      for (std::size_t i = 0; i < chain.size(); ++i) {
        if (!report.dp->stored[i]) {
          report.recomputed.push_back(chain_step_name(span.first_layer, i));
        }
      }
    }
  }
  const auto fifth = plan_recompute(chain, all.peak_bytes * (1.0 - report.reference_saving));
  report.reference_time_added = fifth ? fifth->time_s / all.time_s - 1.0 : -1.0;
  return report;
}

} // namespace brix::plan
