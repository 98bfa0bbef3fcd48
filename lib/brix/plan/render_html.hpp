#pragma once
// Pictures of plans: `brix plan --emit html` (one self-contained page: the best plan's pipeline
// timeline, memory by stage, the ranked plans and the rejected layouts), `--emit svg` (the
// timeline alone) and `brix plan calibrate --emit html`. Drawn from the same report values the
// text and JSON show; the timeline from pipeline_timeline().

#include <brix/plan/calibration.hpp>
#include <brix/plan/pipeline_timeline.hpp>
#include <brix/plan/plan_report.hpp>

#include <string>
#include <string_view>

namespace brix::plan {

/// One step of `plan` as an SVG: a row per stage with its passes, idle time hatched, a time
/// axis, a legend, and under it the slowest stage's step split into compute, exposed
/// communication by dimension, bubble and optimizer (widths from `plan.step`).
[[nodiscard]] std::string timeline_svg(const PipelineTimeline& timeline, const PlanEstimate& plan, std::string_view title);

/// The best plan's timeline (best_plan picks it; JobError when no layout fits).
[[nodiscard]] std::string plan_timeline_svg(const PlanReport& report);

/// The whole page. Without any plan it still shows why every layout was rejected.
[[nodiscard]] std::string plan_html(const PlanReport& report);

/// Predicted against published, one chart per metric, with the table of runs.
[[nodiscard]] std::string calibration_html(const CalibrationReport& report);

} // namespace brix::plan
