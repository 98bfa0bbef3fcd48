// Stacked bars, the predicted-against-published scatter and the Pareto front.
#include <brix/viz/charts.hpp>

#include <brix/viz/palette.hpp>
#include <brix/viz/svg.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace brix::viz {

namespace {

constexpr double k_left = 70;   // room for the y tick labels and title
constexpr double k_right = 24;
constexpr double k_top = 18;
constexpr double k_axis_room = 48; // x tick labels and title

std::string value_text(double value) { return fmt::format("{:.4g}", value); }

} // namespace

std::string stacked_bars_svg(const StackedBars& chart) {
  const double bar_width = 46;
  const double gap = 22;
  const double plot_width = std::max(260.0, static_cast<double>(chart.categories.size()) * (bar_width + gap) + gap);
  const double plot_height = 240;
  const double width = k_left + plot_width + k_right + 170; // the capacity label sits right of the bars
  double top_value = 0;
  for (const double capacity : chart.capacities) {
    top_value = std::max(top_value, capacity);
  }
  for (const auto& stack : chart.values) {
    double sum = 0;
    for (const double v : stack) {
      sum += v;
    }
    top_value = std::max(top_value, sum);
  }
  const auto ticks = nice_ticks(0, std::max(top_value * 1.05, 1e-9), 5);
  const LinearScale y{0, ticks.back(), k_top + plot_height, k_top};
  std::vector<LegendItem> items;
  for (const auto& series : chart.series) {
    items.push_back({series.name, series.colour});
  }
  const double legend_y = k_top + plot_height + 44;
  Svg probe(width, 0, chart.label);
  const double legend_height = legend(probe, k_left, legend_y, plot_width + 150, items);
  Svg svg(width, legend_y + legend_height + 6, chart.label, {{"class", "stacked-bars"}});
  y_axis(svg, y, k_left, plot_width, chart.unit, ticks);
  svg.line(k_left, k_top + plot_height, k_left + plot_width, k_top + plot_height, "#555555", 1);
  for (std::size_t c = 0; c < chart.categories.size(); ++c) {
    const double x = k_left + gap + static_cast<double>(c) * (bar_width + gap);
    double base = 0;
    svg.open_group({{"class", "bar"}, {"data-category", chart.categories[c]}});
    for (std::size_t s = 0; s < chart.series.size() && c < chart.values.size() && s < chart.values[c].size(); ++s) {
      const double value = chart.values[c][s];
      const double top = y(base + value);
      svg.rect(x, top, bar_width, y(base) - top, chart.series[s].colour,
               {{"class", "segment"}, {"data-series", chart.series[s].name}, {"data-value", value_text(value)}},
               fmt::format("{}: {} {:.1f}", chart.categories[c], chart.series[s].name, value));
      base += value;
    }
    svg.close_group();
    svg.text(x + bar_width / 2, y(base) - 4, fmt::format("{:.1f}", base), {10.5, Anchor::middle, true, "#333333"},
             {{"class", "total"}});
    const auto lines = util::split(chart.categories[c], '\n');
    for (std::size_t l = 0; l < lines.size(); ++l) {
      svg.text(x + bar_width / 2, k_top + plot_height + 15 + 13 * static_cast<double>(l), lines[l],
               {11, Anchor::middle, false, "#333333"});
    }
  }
  const bool one_capacity = !chart.capacities.empty() &&
                            std::all_of(chart.capacities.begin(), chart.capacities.end(),
                                        [&](double capacity) { return capacity == chart.capacities.front(); });
  if (one_capacity) {
    const double line_y = y(chart.capacities.front());
    svg.line(k_left, line_y, k_left + plot_width, line_y, colour::limit, 2, "6 4",
             {{"class", "capacity"}, {"data-value", value_text(chart.capacities.front())}});
    svg.text(k_left + plot_width + 6, line_y + 4, chart.capacity_label, {11.5, Anchor::start, true, colour::limit});
  } else {
    for (std::size_t c = 0; c < chart.capacities.size() && c < chart.categories.size(); ++c) {
      const double x = k_left + gap + static_cast<double>(c) * (bar_width + gap);
      const double line_y = y(chart.capacities[c]);
      svg.line(x - 6, line_y, x + bar_width + 6, line_y, colour::limit, 2, "4 3",
               {{"class", "capacity"}, {"data-value", value_text(chart.capacities[c])}});
    }
    if (!chart.capacities.empty()) {
      svg.text(k_left + plot_width + 6, k_top + 12, chart.capacity_label, {11.5, Anchor::start, true, colour::limit});
    }
  }
  legend(svg, k_left, legend_y, plot_width + 150, items);
  return svg.str();
}

std::string diagonal_scatter_svg(const DiagonalChart& chart) {
  const double plot = 300;
  double high = 0;
  for (const auto& point : chart.points) {
    high = std::max({high, point.x, point.y});
  }
  const auto ticks = nice_ticks(0, std::max(high * 1.08, 1e-9), 5);
  const double top = ticks.back();
  const LinearScale x{0, top, k_left, k_left + plot};
  const LinearScale y{0, top, k_top + plot, k_top};
  std::map<std::string, std::string> colours;
  std::vector<LegendItem> items;
  for (const auto& point : chart.points) {
    if (!colours.contains(point.group)) {
      const auto colour = std::string(colour::series[colours.size() % std::size(colour::series)]);
      colours[point.group] = colour;
      items.push_back({point.group, colour});
    }
  }
  items.push_back({fmt::format("within ±{:.0f}%", chart.band * 100), "#dfe9f5"});
  const double legend_y = k_top + plot + k_axis_room + 6;
  const double width = k_left + plot + k_right;
  Svg probe(width, 0, chart.label);
  const double legend_height = legend(probe, 12, legend_y, width - 24, items);
  Svg svg(width, legend_y + legend_height + 4, chart.label, {{"class", "diagonal-scatter"}});
  // The band is a wedge from the origin between y = (1+b)·x and y = (1−b)·x, cut by the plot's edges.
  svg.polygon({{x(0), y(0)}, {x(top / (1 + chart.band)), y(top)}, {x(top), y(top)}, {x(top), y(top * (1 - chart.band))}},
              "#dfe9f5", {{"class", "band"}, {"data-band", value_text(chart.band)}});
  y_axis(svg, y, k_left, plot, chart.y_title, ticks);
  x_axis(svg, x, k_top + plot, k_top, chart.x_title, ticks);
  svg.line(x(0), y(0), x(top), y(top), "#555555", 1.2, "4 3", {{"class", "identity"}});
  svg.text(x(top) - 4, y(top) + 14, "y = x", {11, Anchor::end, false, "#555555"});
  for (const auto& point : chart.points) {
    const double error = point.x != 0 ? (point.y - point.x) / point.x : 0;
    svg.circle(x(point.x), y(point.y), 4.5, colours[point.group],
               {{"class", "point"}, {"data-x", value_text(point.x)}, {"data-y", value_text(point.y)},
                {"stroke", "#ffffff"}, {"stroke-width", "1"}},
               fmt::format("{}: predicted {:.4g}, published {:.4g} ({:+.1f}%)", point.label, point.y, point.x, error * 100));
  }
  legend(svg, 12, legend_y, width - 24, items);
  return svg.str();
}

std::vector<std::size_t> pareto_front(std::span<const ParetoPoint> points) {
  std::vector<std::size_t> order(points.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  // Sweep from the fastest per user down: a point is on the front when it beats every point
  // faster per user on throughput per GPU.
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return points[a].per_user != points[b].per_user ? points[a].per_user > points[b].per_user
                                                    : points[a].per_gpu > points[b].per_gpu;
  });
  std::vector<std::size_t> front;
  double best = -1;
  for (const auto index : order) {
    if (points[index].per_gpu > best) {
      front.push_back(index);
      best = points[index].per_gpu;
    }
  }
  std::reverse(front.begin(), front.end());
  return front;
}

bool meets_slos(const ParetoPoint& point, std::span<const SloLine> slos) {
  if (point.misses_other_slo) {
    return false;
  }
  for (const auto& slo : slos) {
    const double value = slo.axis == SloLine::Axis::per_user ? point.per_user : point.per_gpu;
    if (value < slo.value) {
      return false;
    }
  }
  return true;
}

std::string pareto_front_svg(const ParetoChart& chart) {
  const double plot_width = 460;
  const double plot_height = 300;
  double max_x = 0;
  double max_y = 0;
  for (const auto& point : chart.points) {
    max_x = std::max(max_x, point.per_user);
    max_y = std::max(max_y, point.per_gpu);
  }
  for (const auto& slo : chart.slos) {
    (slo.axis == SloLine::Axis::per_user ? max_x : max_y) = std::max(slo.axis == SloLine::Axis::per_user ? max_x : max_y,
                                                                     slo.value);
  }
  const auto x_ticks = nice_ticks(0, std::max(max_x * 1.08, 1e-9), 6);
  const auto y_ticks = nice_ticks(0, std::max(max_y * 1.08, 1e-9), 5);
  const LinearScale x{0, x_ticks.back(), k_left, k_left + plot_width};
  const LinearScale y{0, y_ticks.back(), k_top + plot_height, k_top};
  const std::vector<LegendItem> items{{"configuration meeting every SLO", std::string(colour::forward)},
                                      {"misses an SLO", "#ffffff"},
                                      {"Pareto front", std::string(colour::highlight)},
                                      {"region missing an SLO", "#fbe3e3"}};
  const double width = k_left + plot_width + k_right;
  const double legend_y = k_top + plot_height + k_axis_room + 6;
  Svg probe(width, 0, chart.label);
  const double legend_height = legend(probe, 12, legend_y, width - 24, items);
  Svg svg(width, legend_y + legend_height + 4, chart.label, {{"class", "pareto"}});
  for (const auto& slo : chart.slos) {
    if (slo.axis == SloLine::Axis::per_user) {
      svg.rect(x(0), y(y_ticks.back()), x(slo.value) - x(0), y(0) - y(y_ticks.back()), "#fbe3e3", {{"class", "slo-miss"}});
    } else {
      svg.rect(x(0), y(slo.value), plot_width, y(0) - y(slo.value), "#fbe3e3", {{"class", "slo-miss"}});
    }
  }
  y_axis(svg, y, k_left, plot_width, chart.y_title, y_ticks);
  x_axis(svg, x, k_top + plot_height, k_top, chart.x_title, x_ticks);
  const auto front = pareto_front(chart.points);
  std::vector<std::pair<double, double>> line;
  for (const auto index : front) {
    line.emplace_back(x(chart.points[index].per_user), y(chart.points[index].per_gpu));
  }
  if (line.size() > 1) {
    svg.polyline(line, colour::highlight, 2, {{"class", "front"}});
  }
  std::vector<bool> on_front(chart.points.size(), false);
  for (const auto index : front) {
    on_front[index] = true;
  }
  for (std::size_t i = 0; i < chart.points.size(); ++i) {
    const auto& point = chart.points[i];
    const bool meets = meets_slos(point, chart.slos);
    svg.circle(x(point.per_user), y(point.per_gpu), on_front[i] ? 5.5 : 4, meets ? colour::forward : "#ffffff",
               {{"class", on_front[i] ? "point on-front" : "point"},
                {"data-per-user", value_text(point.per_user)},
                {"data-per-gpu", value_text(point.per_gpu)},
                {"data-meets-slo", meets ? "1" : "0"},
                {"stroke", on_front[i] ? std::string(colour::highlight) : std::string(colour::forward)},
                {"stroke-width", "1.5"}},
               fmt::format("{}: {:.4g} tokens/s per user, {:.4g} tokens/s per GPU{}", point.label, point.per_user,
                           point.per_gpu, meets ? "" : " (misses an SLO)"));
  }
  for (const auto& slo : chart.slos) {
    if (slo.axis == SloLine::Axis::per_user) {
      svg.line(x(slo.value), k_top, x(slo.value), k_top + plot_height, colour::limit, 1.5, "6 4",
               {{"class", "slo"}, {"data-value", value_text(slo.value)}});
      svg.text(x(slo.value) + 4, k_top + 12, slo.label, {11, Anchor::start, true, colour::limit});
    } else {
      svg.line(k_left, y(slo.value), k_left + plot_width, y(slo.value), colour::limit, 1.5, "6 4",
               {{"class", "slo"}, {"data-value", value_text(slo.value)}});
      svg.text(k_left + plot_width - 4, y(slo.value) - 5, slo.label, {11, Anchor::end, true, colour::limit});
    }
  }
  legend(svg, 12, legend_y, width - 24, items);
  return svg.str();
}

} // namespace brix::viz
