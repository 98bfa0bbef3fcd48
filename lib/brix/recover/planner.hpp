#pragma once
// The real LayoutCheck and LayoutSearch of replan: brix's planner on the plan's own model and
// cluster, with the cluster cut down to the nodes left.

#include <brix/cluster/cluster.hpp>
#include <brix/model/model.hpp>
#include <brix/plan/plan_file.hpp>
#include <brix/recover/replan.hpp>

namespace brix::recover {

/// The plan's model and cluster (InputError when its files cannot be read).
struct PlanContext {
  plan::PlanFile plan;
  model::ModelSpec model;
  cluster::ClusterSpec cluster;
  [[nodiscard]] int gpus_per_node() const;
};

[[nodiscard]] PlanContext load_plan_context(const std::string& plan_path);

/// explain_layout of the planner on `nodes` nodes.
[[nodiscard]] LayoutCheck planner_check(const PlanContext& context);
/// search_layouts of the planner on `nodes` nodes, best layout first.
[[nodiscard]] LayoutSearch planner_search(const PlanContext& context);

} // namespace brix::recover
