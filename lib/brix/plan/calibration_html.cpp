// `brix plan calibrate --emit html`: predicted against published, one chart per metric (the
// y = x line and the ±10% band), then the table of runs. Numbers from the CalibrationReport.
#include <brix/plan/render_html.hpp>

#include <brix/util/strings.hpp>
#include <brix/util/version.hpp>
#include <brix/viz/charts.hpp>
#include <brix/viz/html.hpp>
#include <brix/viz/svg.hpp>

#include <fmt/format.h>

#include <cmath>
#include <map>

namespace brix::plan {

namespace {

struct MetricView {
  std::string_view title; ///< axis words
  double scale = 1;       ///< fractions drawn as percent
};

MetricView metric_view(std::string_view metric) {
  if (metric == "tflops_per_gpu") {
    return {"TFLOP/s per GPU", 1};
  }
  if (metric == "iteration_s") {
    return {"iteration time (s)", 1};
  }
  if (metric == "mfu") {
    return {"MFU (%)", 100};
  }
  return {metric, 1};
}

} // namespace

std::string calibration_html(const CalibrationReport& report) {
  constexpr double k_band = 0.10;
  viz::Page page;
  page.title = "brix plan calibrate: predicted against published";
  page.subtitle = fmt::format("{} runs · mean absolute error {:.1f}%, max {:.1f}% · {}", report.rows.size(),
                              report.mean_abs_error * 100, report.max_abs_error * 100,
                              util::split(version_text(), '\n').front());
  std::map<std::string, std::vector<const CalibrationRow*>> by_metric;
  std::vector<std::string> order;
  std::size_t within = 0;
  for (const auto& row : report.rows) {
    if (!by_metric.contains(row.metric)) {
      order.push_back(row.metric);
    }
    by_metric[row.metric].push_back(&row);
    within += std::abs(row.error) <= k_band ? 1 : 0;
  }
  std::string charts = "<div class=\"figures\">";
  for (const auto& metric : order) {
    const auto view = metric_view(metric);
    viz::DiagonalChart chart;
    chart.label = fmt::format("{}: predicted against published", view.title);
    chart.x_title = fmt::format("published {}", view.title);
    chart.y_title = fmt::format("predicted {}", view.title);
    chart.band = k_band;
    for (const auto* row : by_metric[metric]) {
      chart.points.push_back({row->published * view.scale, row->predicted * view.scale,
                              fmt::format("{} {} on {} GPUs ({})", row->table, row->model, row->gpus, row->chosen),
                              fmt::format("table {}", row->table)});
    }
    charts += fmt::format("<figure><figcaption><b>{}</b></figcaption>{}</figure>", viz::escape_xml(view.title),
                          viz::diagonal_scatter_svg(chart));
  }
  charts += "</div>";
  std::string body = viz::section(
      "calibration", "Predicted against published",
      charts,
      fmt::format("One dot per published run, at its published layout; on the dashed line the prediction is exact, "
                  "in the shaded band it is within ±{:.0f}% ({} of {} runs).",
                  k_band * 100, within, report.rows.size()));
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : report.rows) {
    rows.push_back({row.table, row.model, std::to_string(row.gpus), row.metric, fmt::format("{:.3g}", row.published),
                    fmt::format("{:.3g}", row.predicted), fmt::format("{:+.1f}%", row.error * 100), row.chosen});
  }
  body += viz::section("runs", "Runs",
                       viz::html_table({{"table", false}, {"model", false}, {"GPUs", true}, {"metric", false},
                                        {"published", true}, {"predicted", true}, {"error", true}, {"layout evaluated", false}},
                                       rows, {}, "runs-table"));
  page.body = body;
  return viz::html_document(page);
}

} // namespace brix::plan
