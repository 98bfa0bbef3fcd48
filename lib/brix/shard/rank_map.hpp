#pragma once
// Where every rank of a plan runs and what it talks to: node and GPU, its coordinates and process
// groups as Megatron-LM builds them, its layers, its CPUs, NUMA node and nearest adapters, and
// the environment a launcher sets for it. Pure: the plan, the nodes and the layer count in.

#include <brix/plan/plan_file.hpp>
#include <brix/shard/nodes.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace brix::shard {

/// Global ranks of the process groups a rank belongs to (Megatron-LM's names in comments).
struct RankGroups {
  std::vector<int> tp;        ///< tensor model parallel
  std::vector<int> cp;        ///< context parallel
  std::vector<int> dp;        ///< data parallel (without CP)
  std::vector<int> dp_cp;     ///< data parallel with CP: the dense gradient all-reduce
  std::vector<int> pp;        ///< pipeline model parallel
  std::vector<int> ep;        ///< expert model parallel
  std::vector<int> expert_tp; ///< expert tensor parallel
  std::vector<int> expert_dp; ///< expert data parallel: the expert gradient all-reduce
  std::vector<int> embedding; ///< first and last pipeline stage (tied embedding gradients)
};

/// One virtual pipeline stage a rank runs: layers [first_layer, last_layer].
struct RankStage {
  int virtual_stage = 0; ///< 0 .. vpp-1
  int stage = 0;         ///< index in the plan's stage list (virtual_stage · pp + pp rank)
  std::int64_t first_layer = 0;
  std::int64_t last_layer = 0;
};

struct RankPlacement {
  int rank = 0;
  int node = 0; ///< index into RankMap::nodes
  int local_rank = 0;
  int gpu = 0;  ///< GPU index on the node (PCI bus order)
  // Coordinates: dense layers (tp, cp, dp, pp), expert layers (expert_tp, ep, expert_dp).
  int tp = 0, cp = 0, dp = 0, pp = 0, ep = 0, expert_tp = 0, expert_dp = 0;
  std::vector<RankStage> stages;
  RankGroups groups;
  // From the node's topology; unknown (-1 / empty) without one.
  int numa_node = -1;
  std::string cpus;              ///< the rank's share of its GPU's local CPUs
  std::vector<std::string> nics; ///< nearest compute adapter(s)
  int nic_path = -1;             ///< PathClass of the nearest adapter, -1 unknown
  /// Environment for the rank's process (LOCAL_RANK, CUDA_*, NCCL_IB_HCA), in a fixed order.
  std::vector<std::pair<std::string, std::string>> env;
  std::string bind; ///< "numactl --physcpubind=... --membind=N", empty without topology
};

/// A placement problem worth a look (the plan still runs).
struct Finding {
  std::string check;   ///< "tp-across-nodes", "adapter-across-socket", "adapters-uneven", ...
  std::string message; ///< one line
};

struct RankMap {
  plan::Layout layout;
  std::vector<std::string> order; ///< the generator's dimension order, all five
  std::int64_t decoder_layers = 0;
  std::vector<plan::PlanStage> stages;
  std::vector<ClusterNode> nodes; ///< the nodes that host ranks, in rank order
  int total_gpus = 0;             ///< on all the nodes given
  std::vector<RankPlacement> ranks;
  std::vector<Finding> findings;
};

/// Builds the map. More ranks than GPUs, or an order Megatron would refuse, is an InputError.
/// `has_experts` false is a dense model: Megatron is then given no expert-TP size and defaults it
/// to TP (as `brix plan --emit megatron` does), so the expert groups follow tp, not the plan's etp.
[[nodiscard]] RankMap build_rank_map(const plan::PlanFile& plan, const std::vector<ClusterNode>& nodes,
                                     const std::vector<std::string>& order, std::int64_t decoder_layers,
                                     bool has_experts = true);

/// One line per rank in rank order: the host of each rank, for `srun --distribution=arbitrary`
/// (SLURM_HOSTFILE). Nodes without host names are an InputError.
[[nodiscard]] std::string slurm_hostfile(const RankMap& map);

} // namespace brix::shard
