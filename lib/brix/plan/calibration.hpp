#pragma once
// Evaluates published training runs at their published layouts and compares the predicted
// throughput or iteration time with the measurement (configs/calibration/*.yaml); the report is
// rendered in calibration_report.cpp.

#include <brix/util/output.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace brix::plan {

struct CalibrationRow {
  std::string table;
  std::string model;
  int gpus = 0;
  std::string layout;   ///< as published; searched fields filled in by the search
  std::string metric;   ///< tflops_per_gpu | iteration_s | mfu
  double published = 0;
  double predicted = 0;
  double error = 0;     ///< (predicted − published) / published
  std::string chosen;   ///< the full layout evaluated
  std::string note;     ///< e.g. brix's memory model says the published layout does not fit
};

struct CalibrationReport {
  std::vector<CalibrationRow> rows;
  double mean_abs_error = 0;
  double max_abs_error = 0;
};

/// The bundled runs: configs/calibration/megatron-2021.yaml.
[[nodiscard]] std::string default_calibration_file();

/// Runs every row of a calibration file (file:line errors on bad input).
[[nodiscard]] CalibrationReport run_calibration(const std::string& path);

/// `runs[]` with every row's note, and the mean and max absolute errors.
[[nodiscard]] nlohmann::ordered_json to_json(const CalibrationReport& report);
/// One table row per run, then the mean and max absolute errors.
[[nodiscard]] std::string to_text(const CalibrationReport& report);

} // namespace brix::plan
