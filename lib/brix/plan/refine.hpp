#pragma once
// Details of a plan from the search: its stage split (the partition DP's, chosen in the
// search, against Megatron's uniform split), the recomputation report of the memory-critical
// stage, the checkpoint interval and the batch split.

#include <brix/plan/batch_settings.hpp>
#include <brix/plan/batch_split.hpp>
#include <brix/plan/checkpoint_interval.hpp>
#include <brix/plan/recompute_report.hpp>
#include <brix/plan/search.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::plan {

struct StageDetail {
  int first_layer = 0;
  int last_layer = -1;
  std::string node_group;
  double time_s = 0;       ///< per micro-batch
  double memory_bytes = 0; ///< per GPU at peak
  MemoryEstimate memory;   ///< memory_bytes by kind (weights, gradients, optimizer, activations, other)
  double capacity_bytes = 0; ///< the memory of the stage's GPUs
  /// One micro-batch's forward and backward as the step estimate charges this stage (compute,
  /// recomputation, exposed TP/EP/CP and pipeline transfers): what the pipeline timeline draws.
  StageTimes pass;
  /// Per micro-batch, data-parallel (ZeRO) traffic exposed beside the stage's compute on its own
  /// group's network (mixed-cluster plans; 0 where the step charges it once for all stages).
  double data_parallel_s = 0;
};

struct CheckpointOptions {
  double gpu_mtbf_hours = k_llama3_gpu_mtbf_hours;
  double restart_overhead_s = 300; ///< relaunch, rendezvous, warm-up, excluding the load
  std::optional<double> storage_write_gb_per_s; ///< --storage-gb-per-s: overrides the cluster's
};

struct PlanDetails {
  std::vector<StageDetail> stages;  ///< the split the plan uses
  double uniform_step_s = 0;        ///< the step with Megatron's uniform split
  double balanced_step_s = 0;       ///< the step with the DP split
  bool split_is_uniform = true;
  std::optional<RecomputeReport> recompute;
  CheckpointPlan checkpoint; ///< its storage says whether the bandwidth was given or assumed
  double checkpoint_bytes = 0;
  BatchSplit batch;
};

/// The details of `plan` under the split it runs with (the search's choice: `plan.split`, or
/// the uniform split when empty); sets `plan.memory` to the worst of all its stages.
[[nodiscard]] PlanDetails refine_plan(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                      const SearchOptions& options, const CheckpointOptions& checkpoint,
                                      PlanEstimate& plan);

/// Checkpoint size (bf16 weights + fp32 master and Adam moments) into `size_bytes`, and the
/// Young/Daly interval for `gpus` GPUs (storage from checkpoint_storage: given or assumed).
[[nodiscard]] CheckpointPlan checkpoint_for(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                                           int gpus, const CheckpointOptions& options, double& size_bytes);
/// Megatron flags for the split when it is uneven and they can express it (first/last stage
/// sizes, the middle uniform: the DP's split, or the uniform split of layers that pp does not
/// divide); empty when every stage has the same size or an explicit per-stage list is needed.
[[nodiscard]] std::vector<std::string> megatron_split_flags(const PlanDetails& details, std::int64_t layers);

} // namespace brix::plan
