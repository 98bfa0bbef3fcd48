#pragma once
// Measured per-stage times for `brix plan --measured FILE`, so that the stage-split DP
// rebalances layers from what the job really does. `brix monitor --save-measured` writes it.
// YAML:
//
//   brix_measured: 1
//   job: train-42
//   taken: 1732841234          # unix seconds
//   world_size: 32
//   stages:
//     - {stage: 0, ranks: [0, 1, 2, 3], steps: 200, compute_seconds: 0.412, step_seconds: 0.55}
//
// compute_seconds/step_seconds: median over the recent `steps` of the stage's slowest rank
// (the pipeline moves at its slowest member's pace).

#include <cstdint>
#include <string>
#include <vector>

namespace brix::plan {

struct MeasuredStage {
  int stage = 0;
  std::vector<int> ranks;
  std::int64_t steps = 0;     ///< steps in the window
  double compute_seconds = 0; ///< median over steps of the stage's slowest rank
  double step_seconds = 0;    ///< median over steps of the stage's slowest rank
};

struct MeasuredStages {
  std::string job;
  double taken = 0;
  int world_size = 0;
  std::vector<MeasuredStage> stages;
};

/// The file's text; JobError when no stage was measured.
[[nodiscard]] std::string measured_stages_yaml(const MeasuredStages& measured);
/// Reads it back (file:line errors).
[[nodiscard]] MeasuredStages read_measured_stages(const std::string& path);

} // namespace brix::plan
