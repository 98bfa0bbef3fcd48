#pragma once
// A small SVG writer for brix's pictures: shapes with attributes and hover titles, linear scales
// with round ticks, axes and legends. Pure string building; the output is a standalone,
// well-formed SVG element (xmlns set) that also works inline in HTML.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brix::viz {

/// `text` with &, <, >, " and ' escaped: safe in XML/HTML text and attribute values.
[[nodiscard]] std::string escape_xml(std::string_view text);
/// A coordinate or length as short text: at most two decimals, no trailing zeros ("12.5", "3").
[[nodiscard]] std::string coordinate(double value);

/// Extra attributes of one element: name, value (the value is escaped when written).
using Attributes = std::vector<std::pair<std::string, std::string>>;

enum class Anchor { start, middle, end };

struct TextStyle {
  double size = 12;
  Anchor anchor = Anchor::start;
  bool bold = false;
  std::string_view fill = "#222222";
  double rotate = 0; ///< degrees around (x, y)
};

/// Builds one <svg> element; shapes are written in call order (later ones on top).
class Svg {
public:
  /// `label` becomes the picture's <title> and aria-label.
  Svg(double width, double height, std::string_view label, Attributes attributes = {});

  /// A rectangle; `tooltip`, when given, is shown on hover (<title>).
  void rect(double x, double y, double width, double height, std::string_view fill, const Attributes& extra = {},
            std::string_view tooltip = {});
  void line(double x1, double y1, double x2, double y2, std::string_view stroke, double width = 1,
            std::string_view dash = {}, const Attributes& extra = {});
  void text(double x, double y, std::string_view content, const TextStyle& style = {}, const Attributes& extra = {});
  void circle(double cx, double cy, double r, std::string_view fill, const Attributes& extra = {},
              std::string_view tooltip = {});
  /// An open line through `points`.
  void polyline(const std::vector<std::pair<double, double>>& points, std::string_view stroke, double width = 1.5,
                const Attributes& extra = {});
  /// A closed, filled shape through `points`.
  void polygon(const std::vector<std::pair<double, double>>& points, std::string_view fill, const Attributes& extra = {});
  /// <defs> content written verbatim (patterns); callers pass well-formed markup.
  void defs(std::string_view markup);
  void open_group(const Attributes& attributes);
  void close_group();

  [[nodiscard]] double width() const { return m_width; }
  [[nodiscard]] double height() const { return m_height; }
  /// The complete element.
  [[nodiscard]] std::string str() const;

private:
  double m_width;
  double m_height;
  std::string m_head;
  std::string m_body;
  int m_open_groups = 0;
};

/// Maps [domain_min, domain_max] linearly onto [range_min, range_max] (a flipped range draws
/// y axes upwards).
struct LinearScale {
  double domain_min = 0, domain_max = 1;
  double range_min = 0, range_max = 1;
  [[nodiscard]] double operator()(double value) const;
};

/// About `count` round tick values (1, 2 or 5 × 10^k steps) covering [low, high].
[[nodiscard]] std::vector<double> nice_ticks(double low, double high, int count = 5);
/// `high` rounded up to the last of nice_ticks(low, high): the top of an axis.
[[nodiscard]] double nice_ceiling(double low, double high, int count = 5);

/// Tick label text: "0", "2.5", "120", "1.2k", "3M".
[[nodiscard]] std::string tick_label(double value);

/// A y axis at x = `scale`-mapped left edge: ticks, labels and grid lines across `grid_width`.
void y_axis(Svg& svg, const LinearScale& scale, double x, double grid_width, std::string_view title,
            const std::vector<double>& ticks);
/// An x axis at `y`: ticks and labels (and grid lines up to `grid_top` when it is below y).
void x_axis(Svg& svg, const LinearScale& scale, double y, double grid_top, std::string_view title,
            const std::vector<double>& ticks);

struct LegendItem {
  std::string label;
  std::string fill; ///< colour or url(#pattern)
};
/// Swatches with labels from (x, y), wrapping before `max_width`; returns the height used.
double legend(Svg& svg, double x, double y, double max_width, const std::vector<LegendItem>& items);

} // namespace brix::viz
