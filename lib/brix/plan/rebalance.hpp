#pragma once
// Rebalancing a running plan's stage split from measured per-stage times (`brix plan --measured`,
// files written by `brix monitor --save-measured`). Each layer's modelled time is scaled by its
// stage's measured/predicted ratio — what the model got wrong about those layers (an MoE layer
// heavier than modelled, a head slower) is carried with them — and the partition DP re-splits the
// layers under the same memory limits as the planner. A slow node is not a reason to move layers:
// exclude it (brix recover) instead.

#include <brix/plan/plan_file.hpp>
#include <brix/plan/search.hpp>

#include <string>
#include <vector>

namespace brix::plan {

struct RebalanceStage {
  int first_layer = 0;
  int last_layer = -1;
  std::string node_group;
  double predicted_s = 0; ///< the model's time for the stage (per step, same units as measured)
  double measured_s = 0;  ///< before: what was measured; after: predicted from the measurement
  double memory_bytes = 0;
};

struct Rebalance {
  std::vector<RebalanceStage> before;
  std::vector<RebalanceStage> after;  ///< equals `before` when no better split fits
  double before_slowest_s = 0;
  double after_slowest_s = 0;
  [[nodiscard]] double gain() const { return before_slowest_s > 0 ? 1.0 - after_slowest_s / before_slowest_s : 0.0; }
};

/// `measured_s[s]`: stage s's compute seconds per step (its slowest rank). InputError when the
/// plan and the measurement do not match (stage count, VPP > 1).
[[nodiscard]] Rebalance rebalance_stages(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                         const PlanFile& plan, const SearchOptions& options,
                                         const std::vector<double>& measured_s);

/// The plan with the rebalanced split as explicit stages.
[[nodiscard]] PlanFile rebalanced_plan(const PlanFile& plan, const Rebalance& rebalance);

} // namespace brix::plan
