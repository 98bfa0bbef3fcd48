#pragma once
// The files a plan names: its model and its cluster, found the same way by every command that
// reads a plan.

#include <brix/model/model.hpp>
#include <brix/plan/plan_file.hpp>
#include <brix/shard/nodes.hpp>

#include <string>
#include <vector>

namespace brix::shard {

/// The path of a plan's `source:`: absolute as given; relative, first against the current
/// directory, then against the plan file's folder; an empty source means the bundled `name`.
/// A source found in neither place is an InputError naming both.
[[nodiscard]] std::string resolve_plan_source(const plan::PlanFile& plan, const plan::PlanSource& source,
                                              std::string_view what);

/// The plan's model (model.source, or the bundled model.name).
[[nodiscard]] model::ModelSpec load_plan_model(const plan::PlanFile& plan);

/// The nodes to place the plan on: `files` (cluster files or probe reports) when given, else the
/// plan's cluster file.
[[nodiscard]] std::vector<ClusterNode> load_plan_nodes(const plan::PlanFile& plan,
                                                       const std::vector<std::string>& files);

} // namespace brix::shard
