// The picture primitives: escaping, ticks, stacked bars, the diagonal scatter, and the serving
// Pareto front hook (`brix plan --serve` draws through pareto_front_svg).
#include <brix/viz/charts.hpp>
#include <brix/viz/html.hpp>
#include <brix/viz/svg.hpp>

#include <doctest/doctest.h>

#include <regex>
#include <string>

using namespace brix::viz;

namespace {

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

} // namespace

TEST_CASE("viz::escape_xml and coordinate") {
  CHECK(escape_xml(R"(<a href="x">Tom & 'Jerry'</a>)") == "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  CHECK(coordinate(12.5) == "12.5");
  CHECK(coordinate(3.0) == "3");
  CHECK(coordinate(-0.001) == "0");
  CHECK(coordinate(1.239) == "1.24");
}

TEST_CASE("viz::nice_ticks are round and cover the range") {
  CHECK(nice_ticks(0, 95, 5) == std::vector<double>{0, 20, 40, 60, 80, 100});
  CHECK(nice_ticks(0, 1, 4) == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
  const auto ticks = nice_ticks(0, 0.0123, 5);
  CHECK(ticks.front() == 0);
  CHECK(ticks.back() >= 0.0123);
  CHECK(tick_label(12000) == "12k");
  CHECK(tick_label(2.5) == "2.5");
  CHECK(tick_label(3e6) == "3M");
}

TEST_CASE("viz::Svg writes a well-formed element with titles and attributes") {
  Svg svg(100, 50, "a <test>");
  svg.rect(1, 2, 3, 4, "#fff", {{"data-x", "1&2"}}, "tip");
  svg.text(5, 6, "label & more");
  const auto text = svg.str();
  CHECK(text.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(text.find("<title>a &lt;test&gt;</title>") != std::string::npos);
  CHECK(text.find(R"(<rect x="1" y="2" width="3" height="4" fill="#fff" data-x="1&amp;2"><title>tip</title></rect>)") !=
        std::string::npos);
  CHECK(text.find(">label &amp; more</text>") != std::string::npos);
  CHECK(text.substr(text.size() - 6) == "</svg>");
}

TEST_CASE("viz::stacked_bars_svg: one segment per series and bar, the capacity line") {
  StackedBars chart;
  chart.label = "memory";
  chart.unit = "GiB";
  chart.categories = {"stage 0", "stage 1"};
  chart.series = {{"weights", "#111111"}, {"activations", "#222222"}};
  chart.values = {{10, 20}, {12, 30}};
  chart.capacities = {80, 80};
  chart.capacity_label = "GPU memory 80 GiB";
  const auto svg = stacked_bars_svg(chart);
  CHECK(count(svg, "class=\"segment\"") == 4);
  CHECK(svg.find("data-series=\"activations\" data-value=\"30\"") != std::string::npos);
  CHECK(count(svg, "class=\"capacity\"") == 1);
  CHECK(svg.find("GPU memory 80 GiB") != std::string::npos);
  chart.capacities = {80, 40}; // stages on different GPUs: a mark over each bar
  CHECK(count(stacked_bars_svg(chart), "class=\"capacity\"") == 2);
}

TEST_CASE("viz::diagonal_scatter_svg: a dot per point, the identity line and the band") {
  DiagonalChart chart;
  chart.label = "calibration";
  chart.points = {{100, 110, "a", "table A"}, {50, 45, "b", "table B"}, {80, 80, "c", "table A"}};
  const auto svg = diagonal_scatter_svg(chart);
  CHECK(count(svg, "class=\"point\"") == 3);
  CHECK(count(svg, "class=\"identity\"") == 1);
  CHECK(svg.find("class=\"band\" data-band=\"0.1\"") != std::string::npos);
  CHECK(svg.find("table B") != std::string::npos); // the legend names the groups
}

TEST_CASE("viz::pareto_front keeps the points no other beats on both axes") {
  const std::vector<ParetoPoint> points{{10, 900, "a"}, {20, 800, "b"}, {15, 700, "dominated by b"}, {40, 300, "c"},
                                        {5, 850, "dominated by a"}, {40, 200, "dominated by c"}};
  const auto front = pareto_front(points);
  CHECK(front == std::vector<std::size_t>{0, 1, 3}); // by tokens/s per user
  CHECK(meets_slos(points[1], std::vector<SloLine>{{SloLine::Axis::per_user, 20, "20 tok/s"}}));
  CHECK_FALSE(meets_slos(points[0], std::vector<SloLine>{{SloLine::Axis::per_user, 20, "20 tok/s"}}));
  // A point that misses an SLO not drawn on these axes (time to first token) misses whatever the lines say.
  auto slow_start = points[1];
  slow_start.misses_other_slo = true;
  CHECK_FALSE(meets_slos(slow_start, std::vector<SloLine>{{SloLine::Axis::per_user, 20, "20 tok/s"}}));
  CHECK_FALSE(meets_slos(slow_start, {}));
}

TEST_CASE("viz::pareto_front_svg: the hook for serving plans draws the front and the SLO lines") {
  ParetoChart chart;
  chart.points = {{10, 900, "tp8 batch 256"}, {20, 800, "tp8 batch 128"}, {15, 700, "tp4 batch 128"}, {40, 300, "tp8 batch 16"}};
  chart.slos = {{SloLine::Axis::per_user, 18, "TPOT ≤ 55 ms"}, {SloLine::Axis::per_gpu, 250, "cost ceiling"}};
  const auto svg = pareto_front_svg(chart);
  CHECK(count(svg, "class=\"point on-front\"") == 3);
  CHECK(count(svg, "class=\"point\"") == 1);
  CHECK(count(svg, "class=\"front\"") == 1);
  CHECK(count(svg, "class=\"slo\"") == 2);
  CHECK(count(svg, "class=\"slo-miss\"") == 2);
  CHECK(svg.find("TPOT ≤ 55 ms") != std::string::npos);
  // The point below the per-user SLO is drawn as missing it; the others meet both.
  CHECK(count(svg, "data-meets-slo=\"0\"") == 2);
  CHECK(count(svg, "data-meets-slo=\"1\"") == 2);
}

TEST_CASE("viz::html_document is one self-contained page") {
  Page page;
  page.title = "brix <x>";
  page.body = section("s", "Heading", "<p>hi</p>", "a note & more");
  const auto html = html_document(page);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<title>brix &lt;x&gt;</title>") != std::string::npos);
  CHECK(html.find("a note &amp; more") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos); // static pages run nothing
  CHECK(html.find("http://") == std::string::npos); // and load nothing
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html_table({{"a", false}, {"n", true}}, {{"x<y", "1"}}, {"best"}).find("<tr class=\"best\"><td>x&lt;y</td><td "
                                                                                "class=\"num\">1</td></tr>") !=
        std::string::npos);
}
