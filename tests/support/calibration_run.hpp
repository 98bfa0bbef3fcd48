#pragma once
// One run of a bundled calibration file (`relative` under configs/calibration/), by its id.

#include <brix/plan/calibration.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

namespace brix::test {

[[nodiscard]] inline plan::CalibrationRun bundled_calibration_run(const std::string& relative, const std::string& id) {
  const auto runs = plan::load_calibration_runs(std::string(BRIX_TEST_SOURCE_DIR) + "/configs/calibration/" + relative);
  const auto it = std::find_if(runs.begin(), runs.end(), [&](const plan::CalibrationRun& run) { return run.id == id; });
  REQUIRE(it != runs.end());
  return *it;
}

} // namespace brix::test
