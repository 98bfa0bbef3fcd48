#pragma once
// Charts made of the SVG writer, each from plain values: stacked bars against a capacity line
// (memory per stage), predicted against measured with the y = x line and a band (calibration),
// and a Pareto front with SLO lines (serving plans). Every mark carries data-* attributes with
// the value it draws, so tests read the numbers back from the DOM.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace brix::viz {

struct BarSeries {
  std::string name;
  std::string colour;
};

struct StackedBars {
  std::string label;                     ///< what the picture shows (its title)
  std::string unit;                      ///< y axis title, e.g. "GiB per GPU"
  std::vector<std::string> categories;   ///< one bar each; a '\n' splits a label over two lines
  std::vector<BarSeries> series;         ///< bottom first
  std::vector<std::vector<double>> values; ///< [category][series], in the axis unit
  /// The limit of each bar (GPU memory), same order as categories; one line across the chart
  /// when they are all equal, else a mark over each bar. Empty: no limit drawn.
  std::vector<double> capacities;
  std::string capacity_label;
};
[[nodiscard]] std::string stacked_bars_svg(const StackedBars& chart);

struct ScatterPoint {
  double x = 0; ///< the reference (published)
  double y = 0; ///< the estimate (predicted)
  std::string label;
  std::string group; ///< points of one group share a colour and a legend entry
};

struct DiagonalChart {
  std::string label;
  std::string x_title;
  std::string y_title;
  std::vector<ScatterPoint> points;
  double band = 0.10; ///< the shaded |y − x| <= band · x region
};
/// Estimate against reference: the y = x line and the ±band region, one dot per point.
[[nodiscard]] std::string diagonal_scatter_svg(const DiagonalChart& chart);

/// One serving configuration: what a user sees against what the fleet gets.
struct ParetoPoint {
  double per_user = 0; ///< tokens/s per user (x)
  double per_gpu = 0;  ///< tokens/s per GPU (y)
  std::string label;   ///< e.g. "tp8 ep8 batch 64"
  bool misses_other_slo = false; ///< misses an SLO not drawn on these axes (e.g. time to first token)
};

/// A service-level objective as a line on one axis; points on the wrong side miss it.
struct SloLine {
  enum class Axis { per_user, per_gpu };
  Axis axis = Axis::per_user;
  double value = 0; ///< the least acceptable value on that axis
  std::string label; ///< e.g. "TPOT ≤ 50 ms (20 tok/s per user)"
};

struct ParetoChart {
  std::string label = "Throughput per GPU against speed per user";
  std::string x_title = "tokens/s per user";
  std::string y_title = "tokens/s per GPU";
  std::vector<ParetoPoint> points;
  std::vector<SloLine> slos;
};

/// Indices of the points no other point beats on both axes (ties kept once), by per_user.
[[nodiscard]] std::vector<std::size_t> pareto_front(std::span<const ParetoPoint> points);
/// Whether `point` meets every SLO (the drawn lines and any other it is marked as missing).
[[nodiscard]] bool meets_slos(const ParetoPoint& point, std::span<const SloLine> slos);
/// The chart: every point (hollow when it misses an SLO), the front as a line through its
/// points, each SLO as a dashed line with the region that misses it shaded.
[[nodiscard]] std::string pareto_front_svg(const ParetoChart& chart);

} // namespace brix::viz
