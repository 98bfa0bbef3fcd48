#pragma once
// Placement checks over a finished rank map: what makes a plan run slower than planned.

#include <brix/shard/rank_map.hpp>

#include <vector>

namespace brix::shard {

/// Findings, in this order: tensor-parallel groups that span nodes ("tp-across-nodes"), adapters
/// whose port is down and the ranks moved off them ("adapter-down"), GPUs whose
/// nearest adapter is across the CPU socket ("adapter-across-socket"), nodes whose compute
/// adapters serve different numbers of ranks ("adapters-uneven"), nodes without topology
/// ("no-topology"), stages placed off their planned node group ("stage-node-group"), GPUs left
/// idle ("idle-gpus").
[[nodiscard]] std::vector<Finding> check_rank_map(const RankMap& map);

} // namespace brix::shard
