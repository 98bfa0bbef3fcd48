#pragma once
// `brix plan --emit TARGET`: the best plan in the words of what runs it. One table of targets;
// checking a name ("did you mean"), the --emit help, error messages and writing all read it.

#include <brix/plan/plan_report.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace brix::plan {

/// What a target writes: the text, and `brix: warning: …` lines for stderr about what it
/// cannot express.
struct Emitted {
  std::string text;
  std::vector<std::string> warnings;
};

struct EmitTarget {
  std::string_view name;        ///< --emit NAME
  std::string_view description; ///< what it writes: "Megatron flags", "plan.yaml", …
  /// The text for `report`'s best plan (best_plan picks it); JobError when it cannot be written.
  Emitted (*write)(const PlanReport& report);
  /// Writes Megatron-LM flags: the plan must be one Megatron-LM can run (run_plan then finds the
  /// best such plan when the best plan is not, PlanReport::megatron).
  bool megatron = false;
};

[[nodiscard]] std::span<const EmitTarget> emit_targets();
/// The target called `name`; InputError naming --emit, with "did you mean", when there is none.
[[nodiscard]] const EmitTarget& find_emit_target(std::string_view name);
/// "megatron | deepspeed | …": the names, for the option's help.
[[nodiscard]] std::string emit_target_names(std::string_view separator);
/// "Megatron flags, a DeepSpeed JSON config, … or the best plan's JSON".
[[nodiscard]] std::string emit_target_descriptions();

/// The homogeneous search's best plan, or on a mixed cluster where only the stage-assignment
/// planner finds one, its plan (stages pinned to node groups).
struct BestPlan {
  const Layout* layout = nullptr;
  const PlanEstimate* estimate = nullptr;
  const PlanDetails* details = nullptr;
  bool mixed = false;
};
/// JobError naming `target` when no layout fits.
[[nodiscard]] BestPlan best_plan(const PlanReport& report, std::string_view target);

} // namespace brix::plan
