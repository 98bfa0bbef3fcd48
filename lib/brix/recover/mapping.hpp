#pragma once
// Which old ranks' checkpoint shards feed each new rank when a job is re-planned. Ranks follow
// Megatron-LM's order (shard/rank_generator.hpp, tp-cp-ep-dp-pp). A new rank needs the layers of
// its pipeline stages and its slice of every tensor along TP (and CP): the old ranks of one data
// parallel replica whose layers and slices overlap. With ZeRO (≥ 1) its optimizer state is split
// over the old data-parallel group, so it comes from every replica. Expert weights follow the
// expert coordinates (ETP, EP) the same way. Pure.

#include <brix/plan/plan_file.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace brix::recover {

struct RankSources {
  int rank = 0;                 ///< new global rank
  int tp = 0, cp = 0, dp = 0, pp = 0;
  std::int64_t first_layer = 0; ///< of its first virtual stage
  std::int64_t last_layer = 0;  ///< of its last virtual stage
  std::vector<int> weights;     ///< old ranks holding its dense weight slices (one replica)
  std::vector<int> optimizer;   ///< old ranks holding its optimizer state
  std::vector<int> experts;     ///< old ranks holding its expert slices (MoE only)
};

/// Sources of every new rank, by new rank. `decoder_layers` resolves uniform stage splits.
[[nodiscard]] std::vector<RankSources> map_layouts(const plan::PlanFile& old, const plan::PlanFile& now,
                                                   std::int64_t decoder_layers);

/// The mapping as JSON: one object per new rank, plus "summary".
[[nodiscard]] nlohmann::ordered_json to_json(const std::vector<RankSources>& mapping);

/// "new rank 5 (tp 1, pp 0, dp 1; layers 0-15) <- weights old 1, optimizer old 1,5,9,13".
[[nodiscard]] std::string describe(const RankSources& sources);

} // namespace brix::recover
