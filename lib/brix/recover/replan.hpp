#pragma once
// Re-planning a job on the nodes left after exclusions, keeping the global batch. First choice:
// keep TP, PP, CP, EP and the stages (every rank's weight shard stays valid) and shrink the data
// parallel size, raising gradient accumulation (global = micro × accumulation × dp). When no
// smaller DP fits, a fresh layout search on the reduced cluster. Pure: the planner comes in as
// two functions.

#include <brix/plan/plan_file.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace brix::recover {

/// Problems of `layout` on `nodes` nodes of the plan's cluster (empty: it runs).
using LayoutCheck = std::function<std::vector<std::string>(const plan::Layout& layout, int nodes)>;
/// A fresh search on `nodes` nodes for the plan's global batch: the best layout, or nullopt with
/// `why_not` set.
using LayoutSearch = std::function<std::optional<plan::Layout>(int nodes, std::string& why_not)>;

enum class ReplanDecision {
  unchanged,    ///< enough nodes left: same plan
  shrink_dp,    ///< same TP/PP/CP/EP, smaller DP, more accumulation
  fresh_search, ///< a new layout from the planner
  impossible,   ///< nothing runs on what is left
};

[[nodiscard]] std::string to_string(ReplanDecision decision);

struct Replan {
  ReplanDecision decision = ReplanDecision::unchanged;
  plan::PlanFile plan;            ///< the plan to relaunch with (the old one when unchanged)
  int old_nodes = 0;
  int nodes = 0;                  ///< nodes the new plan needs
  std::string why;                ///< one line
  std::vector<std::string> tried; ///< candidates rejected on the way, with their problems

  /// Weight shards move (TP, PP, CP, EP or stages changed): a checkpoint needs resharding.
  [[nodiscard]] bool layout_changed(const plan::PlanFile& old) const;
};

/// Nodes a plan needs: ceil(world / gpus_per_node).
[[nodiscard]] int nodes_needed(const plan::Layout& layout, int gpus_per_node);

/// Re-plans `old` for `nodes_left` nodes of `gpus_per_node` GPUs.
[[nodiscard]] Replan replan(const plan::PlanFile& old, int gpus_per_node, int nodes_left,
                            const LayoutCheck& check, const LayoutSearch& search);

[[nodiscard]] nlohmann::ordered_json to_json(const Replan& replan, const plan::PlanFile& old);

} // namespace brix::recover
