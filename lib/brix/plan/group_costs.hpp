#pragma once
// What one node group contributes to a pipeline whose stages may sit on different GPU models:
// per-layer times and memory on its GPUs, and the stage device the partition DP sees. Shared by
// the mixed-cluster planner and the rebalancing from measured stage times.

#include <brix/plan/search.hpp>
#include <brix/plan/stage_partition.hpp>

#include <span>
#include <vector>

namespace brix::plan {

struct GroupCosts {
  const cluster::NodeGroup* group = nullptr;
  int stages = 0;
  double dense_s = 0, moe_s = 0, embedding_s = 0, head_s = 0; ///< per micro-batch
  double dense_static = 0, moe_static = 0, dense_act = 0, moe_act = 0;
  double embedding_static = 0, head_static = 0;
  double transient = 0; ///< one layer's recomputed working set (the widest)
  double fixed = 0;     ///< communication buffers (the CUDA context is taken off the capacity)
  /// Per MoE layer and micro-batch, the expert all-to-all's wire time over the network adapters
  /// (exposed or overlapped), where the EP group spans nodes: 0 otherwise. data_parallel_cost's
  /// `ep_network_s` is a stage's sum of it (the adapters the ZeRO-3 traffic shares).
  double moe_ep_network_s = 0;
};

/// The cost context of `group`'s GPUs and links on `cluster`'s network, at the search's precision,
/// software and sequence length.
[[nodiscard]] CostContext group_cost_context(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                             const cluster::NodeGroup& group, const SearchOptions& options);

/// Costs of `layout` on `group`'s GPUs and links (1F1B with `pp` stages).
[[nodiscard]] GroupCosts group_costs(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                     const cluster::NodeGroup& group, const Layout& layout,
                                     const SearchOptions& options, int pp);

/// The decoder layers as a chain in `reference`'s seconds and bytes; the embedding rides on the
/// first layer, the head (and MTP) on the last.
[[nodiscard]] std::vector<ChainItem> layer_chain(const model::ModelSpec& model, const GroupCosts& reference);

/// Forward and backward seconds per micro-batch of the stage holding layers
/// [first_layer, last_layer] on `group`'s own GPUs and links: each layer at its kind's cost there,
/// the embedding on the first stage and the head (and MTP) on the last.
[[nodiscard]] double stage_seconds(const model::ModelSpec& model, const GroupCosts& group, int first_layer,
                                   int last_layer, bool embedding, bool head);

/// `partition`'s stage times and slowest stage by stage_seconds on each stage's own group
/// (`owners`, one per stage). partition_stages balances the chain at one speed ratio per group,
/// a MoE layer's, which misstates what does not scale with it: dense layers, and the embedding
/// and head, whose GEMMs run at the GPU's rate while a MoE layer may wait on its all-to-all.
void retime_partition(const model::ModelSpec& model, std::span<const GroupCosts* const> owners,
                      StagePartition& partition);

/// A stage on `group`: its speed relative to `reference` and its layers' memory budget.
[[nodiscard]] StageDevice stage_device(const model::ModelSpec& model, const GroupCosts& group,
                                       const GroupCosts& reference, double in_flight);

} // namespace brix::plan
