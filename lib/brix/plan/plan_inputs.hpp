#pragma once
// The files a plan names: its model and its cluster, found the same way by every command that
// reads a plan.

#include <brix/model/model.hpp>
#include <brix/plan/plan_file.hpp>

#include <string>

namespace brix::plan {

/// The path of a plan's `source:`: absolute as given; relative, first against the current
/// directory, then against the plan file's folder; an empty source means the bundled `name`.
/// A source found in neither place is an InputError naming both.
[[nodiscard]] std::string resolve_plan_source(const PlanFile& plan, const PlanSource& source,
                                              std::string_view what);

/// The plan's model (model.source, or the bundled model.name).
[[nodiscard]] model::ModelSpec load_plan_model(const PlanFile& plan);

} // namespace brix::plan
