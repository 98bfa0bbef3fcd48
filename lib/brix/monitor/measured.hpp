#pragma once
// Measured per-stage times for `brix plan --measured FILE`, so that the stage-split DP
// rebalances layers from what the job really does. YAML:
//
//   brix_measured: 1
//   job: train-42
//   taken: 1732841234          # unix seconds
//   world_size: 32
//   stages:
//     - {stage: 0, ranks: [0, 1, 2, 3], steps: 200, compute_seconds: 0.412, step_seconds: 0.55}
//
// compute_seconds/step_seconds: median over the recent `steps` of the stage's slowest rank
// (the pipeline moves at its slowest member's pace). Stages come from the ranks' `stage=`
// reports (BRIX_PP_RANK for brix's reporter).

#include <brix/monitor/snapshot.hpp>

#include <string>
#include <vector>

namespace brix::monitor {

struct MeasuredStages {
  std::string job;
  double taken = 0;
  int world_size = 0;
  std::vector<StageView> stages;
};

/// The file's text; JobError when no rank reported a stage.
[[nodiscard]] std::string measured_stages_yaml(const Snapshot& snapshot);
/// Writes it atomically.
void write_measured_stages(const std::string& path, const Snapshot& snapshot);
/// Reads it back (file:line errors).
[[nodiscard]] MeasuredStages read_measured_stages(const std::string& path);

} // namespace brix::monitor
