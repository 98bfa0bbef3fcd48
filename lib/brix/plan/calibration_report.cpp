// Rendering a CalibrationReport (`brix plan calibrate`): predicted against published, per run,
// the fit and held-out sets apart.
#include <brix/plan/calibration.hpp>

#include <brix/util/output.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace brix::plan {

namespace {

const char* set_name(CalibrationSet set) { return set == CalibrationSet::fit ? "fit" : "heldout"; }

nlohmann::ordered_json summary_json(const CalibrationSummary& summary) {
  return {{"runs", summary.runs},
          {"moe_runs", summary.moe_runs},
          {"not_evaluated", summary.failed},
          {"mean_abs_error", summary.mean_abs_error},
          {"max_abs_error", summary.max_abs_error},
          {"moe_mean_abs_error", summary.moe_mean_abs_error}};
}

std::string summary_text(const char* name, const CalibrationSummary& summary) {
  // Means to two decimals: issue 13's targets are whole percents, and 8.03% must not print as 8.0%.
  return fmt::format("{}: {} runs ({} MoE): mean |error| {:.2f}%, max {:.1f}%, MoE mean {:.2f}%{}\n", name,
                     summary.runs, summary.moe_runs, summary.mean_abs_error * 100, summary.max_abs_error * 100,
                     summary.moe_mean_abs_error * 100,
                     summary.failed > 0 ? fmt::format("; {} not evaluated", summary.failed) : std::string());
}

std::string table_text(const CalibrationReport& report, CalibrationSet set) {
  util::Table table({"source", "model", "GPU", "GPUs", "metric", "published", "predicted", "error", "layout evaluated"},
                    {util::Align::left, util::Align::left, util::Align::left, util::Align::right, util::Align::left,
                     util::Align::right, util::Align::right, util::Align::right, util::Align::left});
  for (const auto& row : report.rows) {
    if (row.run.set != set) {
      continue;
    }
    const auto& run = row.run;
    table.add_row({run.source, run.model, run.gpu, std::to_string(run.gpus), run.metric,
                   fmt::format("{:.4g}", run.published), row.evaluated ? fmt::format("{:.4g}", row.predicted) : "-",
                   row.evaluated ? fmt::format("{:+.1f}%", row.error * 100) : "-",
                   row.evaluated ? row.chosen + (row.note.empty() ? "" : " (" + row.note + ")") : row.note});
  }
  return table.render();
}

} // namespace

nlohmann::ordered_json to_json(const CalibrationReport& report) {
  nlohmann::ordered_json doc;
  doc["runs"] = nlohmann::ordered_json::array();
  for (const auto& row : report.rows) {
    const auto& run = row.run;
    nlohmann::ordered_json item{{"id", run.id},           {"source", run.source}, {"set", set_name(run.set)},
                                {"model", run.model},     {"moe", row.moe},       {"gpu", run.gpu},
                                {"gpus", run.gpus},       {"metric", run.metric}, {"published", run.published},
                                {"evaluated", row.evaluated}};
    if (row.evaluated) {
      item["predicted"] = row.predicted;
      item["error"] = row.error;
      item["layout"] = row.chosen;
      item["memory_gib"] = row.memory_bytes / (1024.0 * 1024.0 * 1024.0);
    }
    item["note"] = row.note;
    doc["runs"].push_back(std::move(item));
  }
  doc["fit"] = summary_json(report.fit);
  doc["heldout"] = summary_json(report.heldout);
  doc["all"] = summary_json(report.all);
  const auto& loso = report.leave_one_out;
  auto& left_out = doc["leave_one_source_out"];
  left_out = {{"runs", loso.runs}, {"mean_abs_error", loso.mean_abs_error}, {"sources", nlohmann::ordered_json::array()}};
  for (const auto& source : loso.sources) {
    left_out["sources"].push_back({{"source", source.source},
                                   {"runs", source.runs},
                                   {"host_seconds_per_op", source.host_seconds_per_op},
                                   {"mean_abs_error", source.mean_abs_error}});
  }
  return doc;
}

std::string to_text(const CalibrationReport& report) {
  std::string out = "fit set (sources brix's constants may be chosen against):\n";
  out += table_text(report, CalibrationSet::fit);
  out += "\nheld-out set (sources no constant is tuned on):\n";
  out += table_text(report, CalibrationSet::heldout);
  out += '\n';
  out += summary_text("fit", report.fit);
  out += summary_text("held-out", report.heldout);
  out += summary_text("all", report.all);
  const auto& loso = report.leave_one_out;
  std::vector<std::string> sources;
  for (const auto& source : loso.sources) {
    sources.push_back(fmt::format("{} {:.1f}% at {:.0f} µs", source.source, source.mean_abs_error * 100,
                                  source.host_seconds_per_op * 1e6));
  }
  out += fmt::format("leave-one-source-out (fit set; the host time per operator chosen again without each source): "
                     "{} runs, mean |error| {:.2f}% ({})\n",
                     loso.runs, loso.mean_abs_error * 100, fmt::join(sources, "; "));
  return out;
}

} // namespace brix::plan
