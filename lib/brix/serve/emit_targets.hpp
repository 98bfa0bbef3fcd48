#pragma once
// `brix plan --serve --emit TARGET`: the best serving plan as something that runs it — the engine
// command of every node, an sbatch script under `brix launch`, a LeaderWorkerSet manifest, an
// AIBrix RayClusterFleet. One table of targets, like the training planner's
// (plan/emit_targets.hpp); checking a name, the help and writing all read it.

#include <brix/serve/serve_report.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace brix::serve {

struct Emitted {
  std::string text;
  std::vector<std::string> warnings; ///< `brix: warning: …` lines for stderr
};

struct EmitTarget {
  std::string_view name;        ///< --emit NAME
  std::string_view description; ///< what it writes
  /// The text for the report's best plan; JobError when it cannot be written.
  Emitted (*write)(const ServeReport& report);
};

[[nodiscard]] std::span<const EmitTarget> emit_targets();
/// The target called `name`; InputError naming --emit with "did you mean" when there is none.
[[nodiscard]] const EmitTarget& find_emit_target(std::string_view name);
/// "vllm | sglang | …"
[[nodiscard]] std::string emit_target_names(std::string_view separator);

} // namespace brix::serve
