// Where each process group of a layout sits on the nodes (layer_cost.hpp place_groups).

#include <brix/plan/layer_cost.hpp>

#include <algorithm>

namespace brix::plan {

namespace {

GroupPlacement make_group(int ranks, int stride, int gpus_per_node) {
  // Consecutive blocks of `stride` ranks share a node when stride < node size.
  const int per_node = std::clamp(gpus_per_node / std::max(1, stride), 1, ranks);
  return GroupPlacement{ranks, per_node};
}

} // namespace

Placement place_groups(const Layout& layout, int gpus_per_node) {
  // Megatron-LM order tp-cp-ep-dp-pp for the dense part; experts use etp-ep-edp-pp.
  Placement p;
  p.tp = make_group(layout.tp, 1, gpus_per_node);
  p.cp = make_group(layout.cp, layout.tp, gpus_per_node);
  p.dp = make_group(layout.dp * layout.cp, layout.tp, gpus_per_node);
  p.etp = make_group(layout.etp, 1, gpus_per_node);
  p.ep = make_group(layout.ep, layout.etp, gpus_per_node);
  p.expert_dp = make_group(layout.expert_dp(), layout.etp * layout.ep, gpus_per_node);
  // Hybrid sharding splits each data-parallel group into shard groups (inner, consecutive) and
  // the replicas of one shard across them (outer): PyTorch's 2-D (replicate, shard) mesh.
  p.dp_shard = make_group(layout.shard_group(), layout.tp, gpus_per_node);
  p.dp_replicate = make_group(layout.replicas(), layout.tp * layout.shard_group(), gpus_per_node);
  p.expert_shard = make_group(layout.expert_shard_group(), layout.etp * layout.ep, gpus_per_node);
  p.expert_replicate =
      make_group(layout.replicas(), layout.etp * layout.ep * layout.expert_shard_group(), gpus_per_node);
  const int stage_size = layout.tp * layout.cp * layout.dp;
  p.pp = GroupPlacement{layout.pp, stage_size >= gpus_per_node ? 1 : std::min(layout.pp, gpus_per_node / stage_size)};
  return p;
}

} // namespace brix::plan
