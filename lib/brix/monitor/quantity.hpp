#pragma once
// Numbers with units as people write them in a rules file: "50us", "200 µs", "1e-4", "85%",
// "30s", "2m". Time units become seconds; "%" keeps the number (a percent metric is 0–100).

#include <optional>
#include <string_view>

namespace brix::monitor {

/// "50us" -> 5e-5, "85%" -> 85, "1e-4" -> 1e-4, "2m" -> 120; nullopt when not a quantity.
[[nodiscard]] std::optional<double> parse_quantity(std::string_view text);

/// A duration: a bare number or one with ns/us/µs/ms/s/m/h; nullopt when not one or negative.
[[nodiscard]] std::optional<double> parse_duration(std::string_view text);

} // namespace brix::monitor
