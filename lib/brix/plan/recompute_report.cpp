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
    // Two steps per layer, each with the hidden state as input. The attention block keeps its
    // norm input, projections' inputs, q/k/v and scores; the MLP block the rest.
    ChainStep attention;
    attention.forward_s = cost.attention_forward_s;
    attention.backward_s = cost.attention_backward_s;
    attention.input_bytes = act.layer_input;
    attention.saved_bytes = act.layer_input + act.attention_projections + act.attention_core + act.attention_scores;
    ChainStep mlp;
    mlp.forward_s = cost.forward_s - cost.attention_forward_s;
    mlp.backward_s = cost.backward_s - cost.attention_backward_s;
    mlp.input_bytes = act.layer_input;
    mlp.saved_bytes = act.layer_input + act.norms + act.mlp + act.experts;
    chain.push_back(attention);
    chain.push_back(mlp);
  }
  return chain;
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
    report.dp = plan_recompute(chain, std::min(report.budget_bytes, all.peak_bytes), 200);
    if (report.dp) {
      add("rotor DP at budget", report.dp->peak_bytes, report.dp->time_s);
      for (std::size_t i = 0; i < chain.size(); ++i) {
        if (!report.dp->stored[i]) {
          report.recomputed.push_back(fmt::format("layer {} {}", span.first_layer + static_cast<int>(i / 2),
                                                  i % 2 == 0 ? "attention" : "mlp"));
        }
      }
    }
  }
  const auto claim = plan_recompute(chain, all.peak_bytes * (1.0 - report.claim_saving), 200);
  report.claim_time_added = claim ? claim->time_s / all.time_s - 1.0 : -1.0;
  return report;
}

} // namespace brix::plan
