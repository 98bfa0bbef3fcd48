#include <brix/monitor/quantity.hpp>

#include <brix/util/strings.hpp>

#include <string>

namespace brix::monitor {

namespace {
struct Unit {
  std::string_view suffix;
  double scale;
  bool time;
};
// Longest suffixes first so that "ms" is not read as "s".
constexpr Unit k_units[] = {{"ns", 1e-9, true}, {"us", 1e-6, true}, {"\xC2\xB5s", 1e-6, true},
                            {"ms", 1e-3, true}, {"s", 1.0, true},   {"m", 60.0, true},
                            {"h", 3600.0, true}, {"%", 1.0, false}};

std::optional<double> parse_with_units(std::string_view text, bool allow_percent) {
  text = util::trim(text);
  for (const auto& unit : k_units) {
    if (text.size() > unit.suffix.size() && text.ends_with(unit.suffix)) {
      if (!unit.time && !allow_percent) {
        return std::nullopt;
      }
      const auto number = util::parse_double(util::trim(text.substr(0, text.size() - unit.suffix.size())));
      if (!number) {
        return std::nullopt;
      }
      return *number * unit.scale;
    }
  }
  return util::parse_double(text);
}
} // namespace

std::optional<double> parse_quantity(std::string_view text) { return parse_with_units(text, true); }

std::optional<double> parse_duration(std::string_view text) {
  const auto value = parse_with_units(text, false);
  if (!value || *value < 0) {
    return std::nullopt;
  }
  return value;
}

} // namespace brix::monitor
