#pragma once
// Activation recomputation by dynamic programming over a chain (Beaumont et al., "Optimal
// checkpointing for heterogeneous chains", the rotor algorithm; planning-formulas.md).
// The chain is a stage's layers or their sub-blocks (norms, attention projections, attention
// core, MLP/experts). Given a memory budget for activations, choose which inputs to checkpoint
// and which segments to recompute, minimising forward + backward + recompute time.

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace brix::plan {

struct ChainStep {
  double forward_s = 0;
  double backward_s = 0;
  double input_bytes = 0; ///< a_i: the step's input, what a checkpoint stores
  double saved_bytes = 0; ///< ā_i: everything the step keeps for its backward (≥ its output)
};

struct RecomputePlan {
  double time_s = 0;            ///< forward + backward + recomputation
  double peak_bytes = 0;        ///< activation memory the schedule needs (discretised)
  std::vector<bool> stored;     ///< per step: its activations kept on the first forward
  std::vector<bool> checkpoint; ///< per step: its input checkpointed
  int recomputed_steps = 0;     ///< forward steps run more than once
};

/// Schedule within `budget_bytes`; nullopt if the chain cannot run even with full
/// recomputation. Store-all when it fits (exact). Otherwise the rotor DP over memory in `slots`
/// units (0: as many as a ~2M-cell table allows), sizes rounded up so the schedule always fits;
/// it is exact when sizes are whole slots and otherwise at least as good as the exact optimum at
/// budget − 2n slots, and never worse than store-all or every-k checkpointing at exact sizes.
/// peak_bytes is the schedule's exact peak. O(n³·slots); chains over 64 steps run the DP on
/// groups of consecutive steps (each group kept or checkpointed as one), flags mapped back.
[[nodiscard]] std::optional<RecomputePlan> plan_recompute(std::span<const ChainStep> chain,
                                                          double budget_bytes, int slots = 0);

/// Exhaustive search over the same decisions with exact memory (tests; exponential).
[[nodiscard]] std::optional<double> recompute_brute_force(std::span<const ChainStep> chain,
                                                          double budget_bytes);

/// The classic strategies, for comparison: memory and time of each.
struct StrategyCost {
  std::string name;
  double time_s = 0;
  double peak_bytes = 0;
};
/// none (store all), full (checkpoint every step input), every-k, sqrt(n).
[[nodiscard]] StrategyCost strategy_store_all(std::span<const ChainStep> chain);
[[nodiscard]] StrategyCost strategy_every_k(std::span<const ChainStep> chain, int k);

} // namespace brix::plan
