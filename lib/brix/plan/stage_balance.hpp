#pragma once
// The stage split a plan runs with, inside the search: the partition DP's split replaces
// Megatron's uniform one when it fits and is faster, and plans are ranked on that. A lower bound
// on the step under any split lets the search skip rebalancing plans that cannot enter the top K.

#include <brix/plan/search_detail.hpp>

#include <optional>
#include <span>
#include <vector>

namespace brix::plan::detail {

/// The per-micro-batch costs of one layout's layers (shared by every stage split).
struct LayoutCosts {
  const Placement* placement = nullptr;
  const LayerCost* dense = nullptr;
  const LayerCost* moe = nullptr;
  const LayerCost* embedding = nullptr;
  const LayerCost* head = nullptr;
};

/// Step estimate of `layout` with pipeline stages `spans` (one per stage).
[[nodiscard]] StepEstimate step_for_split(const Evaluator& eval, const Layout& layout, std::span<const StageSpan> spans,
                                          const LayoutCosts& costs);

/// A lower bound on the step of `layout` under every contiguous split, from its estimate under
/// one split: the sum of stage times is the same for every split, so the slowest stage is at
/// least the mean; bubbles take their least value for the schedule; data-parallel traffic and
/// the optimizer count 0. For layouts the search does not rebalance (PP 1, interleaved) it is
/// `step.step_s`.
[[nodiscard]] double split_lower_bound(const Layout& layout, const StepEstimate& step, std::int64_t micro_batches);

/// True when the search rebalances `layout`'s stages. Interleaved layouts keep the uniform
/// split: each GPU holds `vpp` chunks, which a contiguous per-stage split does not describe;
/// layouts with pp_embedding/pp_loss keep Megatron's split of that rule.
[[nodiscard]] bool rebalanced(const Layout& layout);

/// Spans of the stages whose first decoder layers are `first` (the last ends at the last layer).
[[nodiscard]] std::vector<StageSpan> spans_from_first(std::span<const int> first, std::int64_t layers);

/// Memory of the worst stage over every stage of `spans`.
[[nodiscard]] MemoryEstimate worst_stage_memory(const Evaluator& eval, const Layout& layout, std::span<const StageSpan> spans);

struct BalancedSplit {
  std::vector<int> first; ///< first decoder layer of each stage
  StepEstimate step;
  MemoryEstimate memory;  ///< worst stage of this split
};

/// The partition DP's split of `layout` when it differs from `uniform`, fits every stage and
/// makes the step faster than `uniform_step_s`; nullopt otherwise.
[[nodiscard]] std::optional<BalancedSplit> balance_stages(const Evaluator& eval, const Layout& layout,
                                                          const LayoutCosts& costs, std::span<const StageSpan> uniform,
                                                          double uniform_step_s);

} // namespace brix::plan::detail
