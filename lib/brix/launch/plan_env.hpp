#pragma once
// `brix launch --plan plan.yaml`: every worker learns its place in the plan (BRIX_TP_RANK,
// BRIX_PP_RANK, ..., BRIX_LAYERS) from shard's rank map, computed for the launched world.

#include <brix/launch/rendezvous.hpp>
#include <brix/plan/plan_file.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace brix::launch {

struct LaunchPlan {
  plan::PlanFile plan;
  std::int64_t decoder_layers = 0;
  std::string path;
  [[nodiscard]] int world_size() const { return plan.layout.world(); }
};

/// Reads the plan and its model's layer count (InputError on a bad file).
[[nodiscard]] LaunchPlan load_launch_plan(const std::string& path);

/// Workers per node for a plan when --nproc-per-node is not given: the plan's ranks over the
/// nodes; an InputError when they do not divide evenly.
[[nodiscard]] int plan_nproc_per_node(const LaunchPlan& plan, int nnodes);

/// BRIX_* variables of every rank (by global rank). The world must have exactly the plan's
/// ranks: an InputError naming both otherwise.
[[nodiscard]] std::vector<std::map<std::string, std::string>>
plan_environment(const LaunchPlan& plan, const World& world);

} // namespace brix::launch
