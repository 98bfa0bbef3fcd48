#pragma once
// Planning on a cluster of several GPU models (e.g. DGX H100 + A100 nodes): pipeline stages are
// assigned to node groups — never a TP or EP group across GPU models — and the decoder layers
// are split over the stages by speed and memory with the stage-partition DP.

#include <brix/plan/refine.hpp>
#include <brix/plan/search.hpp>
#include <brix/plan/stage_partition.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::plan {

struct MixedStage {
  int first_layer = 0;
  int last_layer = -1;
  std::string node_group;
  double time_s = 0;       ///< per micro-batch, forward + backward (+ recompute, comm)
  double memory_bytes = 0; ///< per GPU at the stage's peak
};

struct MixedPlan {
  Layout layout;
  std::vector<MixedStage> stages;
  double step_s = 0;
  double uniform_step_s = 0; ///< the same layout with Megatron's uniform split (0: does not fit)
  double tokens_per_s = 0;
  double mfu = 0;            ///< against the cluster's summed bf16 peak
};

struct MixedResult {
  std::optional<MixedPlan> best;
  std::int64_t evaluated = 0;
  std::int64_t fitting = 0;
  std::string homogeneous_group;          ///< the largest homogeneous subset
  std::optional<PlanEstimate> homogeneous; ///< its best plan from the regular search
  int homogeneous_gpus = 0;
};

/// Plans `model` on a cluster whose groups differ. Schedule 1F1B; the search covers TP, CP, DP,
/// EP, ETP, SP, micro-batch, recomputation and ZeRO stage for every stage size that tiles every
/// group.
[[nodiscard]] MixedResult plan_mixed(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                     const SearchOptions& options);

/// The mixed plan's details in the homogeneous plans' shape: its stages, the recomputation report
/// of the stage tightest in memory (on its own group's GPUs), the checkpoint interval over the
/// whole cluster and the batch split.
[[nodiscard]] PlanDetails mixed_details(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                        const SearchOptions& options, const CheckpointOptions& checkpoint,
                                        const MixedPlan& plan);

} // namespace brix::plan
