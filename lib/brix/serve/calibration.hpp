#pragma once
// `brix plan calibrate --serve`: every published serving result of configs/calibration/serving.yaml
// evaluated at its published deployment, predicted against published, with the mean |error| of
// throughput and of latency (TTFT, TPOT, per-user speed) on the fit and the held-out sets.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace brix::serve {

/// Throughput (tokens or requests per second, per GPU/node/system) or latency (TTFT, TPOT,
/// end-to-end, tokens/s per user — the inverse of TPOT).
enum class MetricKind { throughput, latency };

struct CalibrationRow {
  std::string id;
  std::string set;     ///< "fit" | "heldout"
  std::string model;
  std::string gpu;
  std::string phase;   ///< prefill | decode | serve
  std::string layout;
  std::string metric;
  MetricKind kind = MetricKind::throughput;
  double published = 0;
  double predicted = 0;
  double error = 0;    ///< (predicted − published) / published
  std::string note;    ///< what brix's own model says about the deployment (e.g. memory)
  /// Where the modelled step goes (decode step for decode and serve runs, prefill chunk for
  /// prefill runs): its time and each term's share, to read an error run by run.
  std::string step;
};

struct CalibrationSummary {
  std::string set;
  MetricKind kind = MetricKind::throughput;
  int count = 0;
  double mean_abs_error = 0;
  double max_abs_error = 0;
};

struct Exclusion {
  std::string id;
  std::string set;
  std::string reason;
};

struct ServeCalibrationReport {
  std::string file;
  std::vector<CalibrationRow> rows;
  std::vector<CalibrationSummary> summary; ///< fit/heldout × throughput/latency
  std::vector<Exclusion> excluded;
};

/// configs/calibration/serving.yaml.
[[nodiscard]] std::string default_serving_calibration_file();

/// Evaluates every run of `path` (file:line errors on bad input).
[[nodiscard]] ServeCalibrationReport run_serving_calibration(const std::string& path);

[[nodiscard]] nlohmann::ordered_json to_json(const ServeCalibrationReport& report);
[[nodiscard]] std::string to_text(const ServeCalibrationReport& report);

} // namespace brix::serve
