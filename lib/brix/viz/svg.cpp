// The SVG writer: escaping, number formatting, scales, ticks, axes and legends.
#include <brix/viz/svg.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace brix::viz {

namespace {

/// DejaVu Sans (what Debian's browsers fall back to) averages about 0.6 em per character.
double text_width(std::string_view text, double size) { return 0.6 * size * static_cast<double>(text.size()); }

std::string attributes_text(const Attributes& attributes) {
  std::string out;
  for (const auto& [name, value] : attributes) {
    out += fmt::format(" {}=\"{}\"", name, escape_xml(value));
  }
  return out;
}

std::string_view anchor_name(Anchor anchor) {
  switch (anchor) {
  case Anchor::middle:
    return "middle";
  case Anchor::end:
    return "end";
  case Anchor::start:
    break;
  }
  return "start";
}

std::string points_text(const std::vector<std::pair<double, double>>& points) {
  std::string out;
  for (const auto& [x, y] : points) {
    out += fmt::format("{}{},{}", out.empty() ? "" : " ", coordinate(x), coordinate(y));
  }
  return out;
}

std::string title_element(std::string_view tooltip) {
  return tooltip.empty() ? std::string() : fmt::format("<title>{}</title>", escape_xml(tooltip));
}

} // namespace

std::string escape_xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string coordinate(double value) {
  if (!std::isfinite(value)) {
    return "0";
  }
  auto text = fmt::format("{:.2f}", value);
  while (text.back() == '0') {
    text.pop_back();
  }
  if (text.back() == '.') {
    text.pop_back();
  }
  return text == "-0" ? "0" : text;
}

Svg::Svg(double width, double height, std::string_view label, Attributes attributes) : m_width(width), m_height(height) {
  m_head = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
                       "role=\"img\" aria-label=\"{2}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"{3}>"
                       "<title>{2}</title>",
                       coordinate(width), coordinate(height), escape_xml(label), attributes_text(attributes));
}

void Svg::rect(double x, double y, double width, double height, std::string_view fill, const Attributes& extra,
               std::string_view tooltip) {
  const auto tail = title_element(tooltip);
  m_body += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}{}", coordinate(x), coordinate(y),
                        coordinate(std::max(0.0, width)), coordinate(std::max(0.0, height)), escape_xml(fill),
                        attributes_text(extra), tail.empty() ? "/>" : ">" + tail + "</rect>");
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view stroke, double width, std::string_view dash,
               const Attributes& extra) {
  m_body += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{}{}/>", coordinate(x1),
                        coordinate(y1), coordinate(x2), coordinate(y2), escape_xml(stroke), coordinate(width),
                        dash.empty() ? std::string() : fmt::format(" stroke-dasharray=\"{}\"", escape_xml(dash)),
                        attributes_text(extra));
}

void Svg::text(double x, double y, std::string_view content, const TextStyle& style, const Attributes& extra) {
  m_body += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\"{}{}{}{}>{}</text>", coordinate(x), coordinate(y),
                        coordinate(style.size), escape_xml(style.fill),
                        style.anchor == Anchor::start ? std::string()
                                                      : fmt::format(" text-anchor=\"{}\"", anchor_name(style.anchor)),
                        style.bold ? " font-weight=\"bold\"" : "",
                        style.rotate != 0 ? fmt::format(" transform=\"rotate({} {} {})\"", coordinate(style.rotate),
                                                        coordinate(x), coordinate(y))
                                          : std::string(),
                        attributes_text(extra), escape_xml(content));
}

void Svg::circle(double cx, double cy, double r, std::string_view fill, const Attributes& extra, std::string_view tooltip) {
  const auto tail = title_element(tooltip);
  m_body += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"{}{}", coordinate(cx), coordinate(cy), coordinate(r),
                        escape_xml(fill), attributes_text(extra), tail.empty() ? "/>" : ">" + tail + "</circle>");
}

void Svg::polyline(const std::vector<std::pair<double, double>>& points, std::string_view stroke, double width,
                   const Attributes& extra) {
  m_body += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{}/>", points_text(points),
                        escape_xml(stroke), coordinate(width), attributes_text(extra));
}

void Svg::polygon(const std::vector<std::pair<double, double>>& points, std::string_view fill, const Attributes& extra) {
  m_body += fmt::format("<polygon points=\"{}\" fill=\"{}\"{}/>", points_text(points), escape_xml(fill),
                        attributes_text(extra));
}

void Svg::defs(std::string_view markup) { m_head += fmt::format("<defs>{}</defs>", markup); }

void Svg::open_group(const Attributes& attributes) {
  m_body += fmt::format("<g{}>", attributes_text(attributes));
  ++m_open_groups;
}

void Svg::close_group() {
  if (m_open_groups > 0) {
    m_body += "</g>";
    --m_open_groups;
  }
}

std::string Svg::str() const {
  std::string out = m_head + m_body;
  for (int i = 0; i < m_open_groups; ++i) {
    out += "</g>";
  }
  return out + "</svg>";
}

double LinearScale::operator()(double value) const {
  const double span = domain_max - domain_min;
  if (span == 0) {
    return range_min;
  }
  return range_min + (value - domain_min) / span * (range_max - range_min);
}

std::vector<double> nice_ticks(double low, double high, int count) {
  if (!(high > low) || count < 1) {
    return {low};
  }
  const double raw = (high - low) / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double factor : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = factor * magnitude;
    if (step >= raw) {
      break;
    }
  }
  std::vector<double> ticks;
  const double first = std::floor(low / step) * step;
  for (double tick = first; tick < high + step * 0.999; tick += step) {
    ticks.push_back(std::abs(tick) < step * 1e-9 ? 0.0 : tick);
  }
  return ticks;
}

double nice_ceiling(double low, double high, int count) { return nice_ticks(low, high, count).back(); }

std::string tick_label(double value) {
  const double magnitude = std::abs(value);
  auto trimmed = [](double v, std::string_view suffix) {
    auto text = fmt::format("{:.2f}", v);
    while (text.back() == '0') {
      text.pop_back();
    }
    if (text.back() == '.') {
      text.pop_back();
    }
    return text + std::string(suffix);
  };
  if (magnitude >= 1e9) {
    return trimmed(value / 1e9, "G");
  }
  if (magnitude >= 1e6) {
    return trimmed(value / 1e6, "M");
  }
  if (magnitude >= 1e4) {
    return trimmed(value / 1e3, "k");
  }
  return trimmed(value, "");
}

void y_axis(Svg& svg, const LinearScale& scale, double x, double grid_width, std::string_view title,
            const std::vector<double>& ticks) {
  for (const double tick : ticks) {
    const double y = scale(tick);
    svg.line(x, y, x + grid_width, y, "#e3e3e3", 1);
    svg.line(x - 4, y, x, y, "#555555", 1);
    svg.text(x - 6, y + 4, tick_label(tick), {11, Anchor::end, false, "#444444"});
  }
  svg.line(x, scale.range_min, x, scale.range_max, "#555555", 1);
  if (!title.empty()) {
    const double middle = (scale.range_min + scale.range_max) / 2;
    svg.text(x - 44, middle, title, {12, Anchor::middle, false, "#333333", -90});
  }
}

void x_axis(Svg& svg, const LinearScale& scale, double y, double grid_top, std::string_view title,
            const std::vector<double>& ticks) {
  for (const double tick : ticks) {
    const double x = scale(tick);
    if (grid_top < y) {
      svg.line(x, grid_top, x, y, "#e3e3e3", 1);
    }
    svg.line(x, y, x, y + 4, "#555555", 1);
    svg.text(x, y + 17, tick_label(tick), {11, Anchor::middle, false, "#444444"});
  }
  svg.line(scale.range_min, y, scale.range_max, y, "#555555", 1);
  if (!title.empty()) {
    svg.text((scale.range_min + scale.range_max) / 2, y + 36, title, {12, Anchor::middle, false, "#333333"});
  }
}

double legend(Svg& svg, double x, double y, double max_width, const std::vector<LegendItem>& items) {
  constexpr double swatch = 12;
  constexpr double row_height = 20;
  double cursor = x;
  double row = y;
  for (const auto& item : items) {
    const double width = swatch + 6 + text_width(item.label, 12) + 18;
    if (cursor > x && cursor + width > x + max_width) {
      cursor = x;
      row += row_height;
    }
    svg.rect(cursor, row, swatch, swatch, item.fill, {{"stroke", "#666666"}, {"stroke-width", "0.5"}});
    svg.text(cursor + swatch + 6, row + 10.5, item.label, {12, Anchor::start, false, "#333333"});
    cursor += width;
  }
  return row - y + row_height;
}

} // namespace brix::viz
