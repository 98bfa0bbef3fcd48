#pragma once
// Planning on a cluster of several GPU models (e.g. DGX H100 + A100 nodes): pipeline stages are
// assigned to node groups — never a TP or EP group across GPU models — and the decoder layers
// are split over the stages by speed and memory with the stage-partition DP.

#include <brix/plan/refine.hpp>
#include <brix/plan/search.hpp>
#include <brix/plan/stage_partition.hpp>

#include <brix/plan/step_time.hpp>

#include <array>
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
  /// Per micro-batch, the data-parallel (ZeRO) traffic exposed beside the stage's compute, on
  /// its own group's network: the stage takes time_s + data_parallel_s in the pipeline.
  double data_parallel_s = 0;
};

struct MixedPlan {
  Layout layout;
  std::vector<MixedStage> stages;
  double step_s = 0;
  std::optional<double> uniform_step_s; ///< the same layout with Megatron's uniform split, if it fits
  double tokens_per_s = 0;
  double mfu = 0;            ///< against the cluster's summed bf16 peak
  std::int64_t micro_batches = 0;
  double transfer_s = 0;     ///< pipeline sends and receives per stage and micro-batch
  /// The slowest stage, its exposed ZeRO traffic included (every stage's data parallelism is
  /// costed on its own group: MixedStage::data_parallel_s).
  int critical_stage = 0;
  DataParallelCost data_parallel; ///< the critical stage's
  /// The homogeneous plans' fields (mixed_estimate): step breakdown, bubble, exposed
  /// communication, memory of the stage tightest in its GPUs' memory, HFU.
  PlanEstimate estimate;
};

/// What the mixed search covers (mixed_search_coverage says it in words).
inline constexpr std::array<int, 3> k_mixed_cp{1, 2, 4};
inline constexpr int k_mixed_max_dp = 64;
inline constexpr std::array<int, 3> k_mixed_micro_batch{1, 2, 4};
inline constexpr std::array<int, 2> k_mixed_zero{1, 3};

struct MixedResult {
  std::optional<MixedPlan> best;
  std::string not_searched;  ///< why a --layout field keeps the mixed search from running
  std::int64_t evaluated = 0;
  std::int64_t fitting = 0;
  std::string homogeneous_group;          ///< the largest homogeneous subset
  std::optional<PlanEstimate> homogeneous; ///< its best plan from the regular search
  int homogeneous_gpus = 0;
};

/// Plans `model` on a cluster whose groups differ, over what mixed_search_coverage() lists, for
/// every stage size that tiles every group. A --layout schedule, vpp or gradient compression it
/// cannot run leaves `best` empty with `not_searched` saying why.
[[nodiscard]] MixedResult plan_mixed(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                     const SearchOptions& options);

/// "1F1B, vpp 1, …": the mixed search's limits, for reports and the man page.
[[nodiscard]] std::string mixed_search_coverage();

/// The plan's PlanEstimate: its step, bubble (1F1B over unequal stages), exposed TP/EP/CP
/// communication of the slowest stage, pipeline and DP traffic, executed FLOPs (HFU) and the
/// memory breakdown of the stage using the largest share of its GPUs' memory.
[[nodiscard]] PlanEstimate mixed_estimate(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                          const SearchOptions& options, const MixedPlan& plan);

/// The mixed plan's details in the homogeneous plans' shape: its stages, the recomputation report
/// of the stage tightest in memory (on its own group's GPUs), the checkpoint interval over the
/// whole cluster and the batch split.
[[nodiscard]] PlanDetails mixed_details(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                        const SearchOptions& options, const CheckpointOptions& checkpoint,
                                        const MixedPlan& plan);

} // namespace brix::plan
