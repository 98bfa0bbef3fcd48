// Rendering `brix plan calibrate --serve`: predicted against published per run, the mean
// |error| per set and kind, and the results left out with their reasons.
#include <brix/serve/calibration.hpp>

#include <brix/util/output.hpp>
#include <brix/util/paths.hpp>

#include <fmt/format.h>

namespace brix::serve {

namespace {

std::string_view kind_name(MetricKind kind) { return kind == MetricKind::throughput ? "throughput" : "latency"; }

std::string value(double number) { return fmt::format("{:.4g}", number); }

} // namespace

std::string default_serving_calibration_file() {
  return (util::config_dir() / "calibration" / "serving.yaml").string();
}

nlohmann::ordered_json to_json(const ServeCalibrationReport& report) {
  nlohmann::ordered_json doc;
  doc["file"] = report.file;
  doc["runs"] = nlohmann::ordered_json::array();
  for (const auto& row : report.rows) {
    doc["runs"].push_back({{"id", row.id},
                           {"set", row.set},
                           {"model", row.model},
                           {"gpu", row.gpu},
                           {"phase", row.phase},
                           {"layout", row.layout},
                           {"metric", row.metric},
                           {"kind", kind_name(row.kind)},
                           {"published", row.published},
                           {"predicted", row.predicted},
                           {"error", row.error},
                           {"note", row.note},
                           {"step", row.step}});
  }
  doc["summary"] = nlohmann::ordered_json::array();
  for (const auto& summary : report.summary) {
    doc["summary"].push_back({{"set", summary.set},
                              {"kind", kind_name(summary.kind)},
                              {"values", summary.count},
                              {"mean_abs_error", summary.mean_abs_error},
                              {"max_abs_error", summary.max_abs_error}});
  }
  doc["excluded"] = nlohmann::ordered_json::array();
  for (const auto& excluded : report.excluded) {
    doc["excluded"].push_back({{"id", excluded.id}, {"set", excluded.set}, {"reason", excluded.reason}});
  }
  return doc;
}

std::string to_text(const ServeCalibrationReport& report) {
  std::string out = fmt::format("serving calibration: {} published values from {}\n\n", report.rows.size(), report.file);
  for (const auto* set : {"fit", "heldout"}) {
    util::Table table({"run", "GPU", "phase", "metric", "published", "predicted", "error", "note"},
                      {util::Align::left, util::Align::left, util::Align::left, util::Align::left, util::Align::right,
                       util::Align::right, util::Align::right, util::Align::left});
    for (const auto& row : report.rows) {
      if (row.set == set) {
        table.add_row({row.id, row.gpu, row.phase, row.metric, value(row.published), value(row.predicted),
                       fmt::format("{:+.1f}%", row.error * 100), row.note});
      }
    }
    out += fmt::format("{} set\n{}\n", set == std::string_view("fit") ? "fit" : "held-out", table.render(2));
  }
  // Where each run's modelled step goes, once per run: what an error is made of.
  out += "modelled step per run\n";
  std::string last;
  for (const auto& row : report.rows) {
    if (row.id != last && !row.step.empty()) {
      out += fmt::format("  {:<40} {}\n", row.id, row.step);
    }
    last = row.id;
  }
  out += "\n";
  util::Table summary({"set", "kind", "values", "mean |error|", "max |error|"},
                      {util::Align::left, util::Align::left, util::Align::right, util::Align::right, util::Align::right});
  for (const auto& row : report.summary) {
    summary.add_row({row.set, std::string(kind_name(row.kind)), std::to_string(row.count),
                     fmt::format("{:.1f}%", row.mean_abs_error * 100), fmt::format("{:.1f}%", row.max_abs_error * 100)});
  }
  out += "summary (throughput: tokens or requests per second; latency: TTFT, TPOT, end-to-end, tokens/s per user)\n";
  out += summary.render(2);
  if (!report.excluded.empty()) {
    out += fmt::format("\nleft out ({} results):\n", report.excluded.size());
    for (const auto& excluded : report.excluded) {
      out += fmt::format("  {} ({}): {}\n", excluded.id, excluded.set, excluded.reason);
    }
  }
  return out;
}

} // namespace brix::serve
