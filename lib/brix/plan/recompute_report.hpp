#pragma once
// Recomputation for one pipeline stage of a plan: the rotor DP on the chain of its layers' sub-
// blocks (attention projections, attention core, MLP/expert block) under the stage's activation budget, compared
// with none, selective, full, every-k and √n checkpointing.

#include <brix/plan/layer_cost.hpp>
#include <brix/plan/memory.hpp>
#include <brix/plan/recompute_dp.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::plan {

struct RecomputeOption {
  std::string name;
  double activation_bytes = 0; ///< per micro-batch, stored between forward and backward
  double time_s = 0;           ///< forward + backward (+ recomputation) per micro-batch
  bool fits = false;           ///< within the stage's activation budget
};

struct RecomputeReport {
  int stage = 0;
  double budget_bytes = 0;  ///< per micro-batch: (capacity − model states − other) / in-flight
  std::vector<RecomputeOption> options; ///< none, selective, full, every-k, √n, DP at budget
  std::optional<RecomputePlan> dp;      ///< the rotor schedule at the budget
  std::vector<std::string> recomputed;  ///< sub-blocks the DP recomputes, e.g. "layer 3 mlp"
  /// The time the DP's best recomputation adds at a fifth of the store-all activation memory: the 5×
  /// reduction Korthikanti et al. 2022 (arXiv:2205.05198) report from sequence parallelism with selective
  /// recomputation, measured from tensor parallelism alone, here reached by recomputation only.
  double reference_saving = 0.8;
  double reference_time_added = 0;  ///< fraction; negative when infeasible
};

/// Chain steps per decoder layer: attention projections, attention core, MLP block.
inline constexpr std::size_t k_steps_per_layer = 3;

/// The sub-block chain of decoder layers [first_layer, last_layer] for one micro-batch.
[[nodiscard]] std::vector<ChainStep> recompute_chain(const model::ModelSpec& model, const Layout& layout,
                                                     const TrainingShape& shape, const LayerCost& dense,
                                                     const LayerCost& moe, const StageSpan& span);
/// "layer 12 attention core": step `step` of a chain starting at `first_layer`.
[[nodiscard]] std::string chain_step_name(int first_layer, std::size_t step);

[[nodiscard]] RecomputeReport recompute_report(const model::ModelSpec& model, const cluster::GpuSpec& gpu,
                                               const Layout& layout, const TrainingShape& shape,
                                               const LayerCost& dense, const LayerCost& moe, int stage,
                                               const StageSpan& span);

} // namespace brix::plan
