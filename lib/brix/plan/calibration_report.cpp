// Rendering a CalibrationReport (`brix plan calibrate`): predicted against published, per run.
#include <brix/plan/calibration.hpp>

#include <brix/util/paths.hpp>

#include <fmt/format.h>

namespace brix::plan {

std::string default_calibration_file() {
  return (util::config_dir() / "calibration" / "megatron-2021.yaml").string();
}

nlohmann::ordered_json to_json(const CalibrationReport& report) {
  nlohmann::ordered_json doc;
  doc["runs"] = nlohmann::ordered_json::array();
  for (const auto& row : report.rows) {
    doc["runs"].push_back({{"table", row.table}, {"model", row.model}, {"gpus", row.gpus}, {"metric", row.metric},
                           {"published", row.published}, {"predicted", row.predicted}, {"error", row.error},
                           {"layout", row.chosen}, {"note", row.note}});
  }
  doc["mean_abs_error"] = report.mean_abs_error;
  doc["max_abs_error"] = report.max_abs_error;
  return doc;
}

std::string to_text(const CalibrationReport& report) {
  util::Table table({"table", "model", "GPUs", "metric", "published", "predicted", "error", "layout evaluated"},
                    {util::Align::left, util::Align::left, util::Align::right, util::Align::left, util::Align::right,
                     util::Align::right, util::Align::right, util::Align::left});
  for (const auto& row : report.rows) {
    table.add_row({row.table, row.model, std::to_string(row.gpus), row.metric, fmt::format("{:.3g}", row.published),
                   fmt::format("{:.3g}", row.predicted), fmt::format("{:+.1f}%", row.error * 100), row.chosen});
  }
  return table.render() + fmt::format("mean absolute error {:.1f}%, max {:.1f}% over {} runs\n", report.mean_abs_error * 100,
                                      report.max_abs_error * 100, report.rows.size());
}

} // namespace brix::plan
