#pragma once
// Generic string helpers; they know nothing about brix.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brix::util {

[[nodiscard]] std::vector<std::string> split(std::string_view text, char separator);
[[nodiscard]] std::string_view trim(std::string_view text);
[[nodiscard]] std::string to_lower(std::string_view text);
[[nodiscard]] bool starts_with(std::string_view text, std::string_view prefix);

/// Levenshtein distance, used for "did you mean".
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

/// The closest candidate when it is close enough to be a plausible typo.
[[nodiscard]] std::optional<std::string> closest_match(std::string_view word,
                                                       std::span<const std::string> candidates);

/// " (did you mean 'x'?)" or "" — to append to an error message.
[[nodiscard]] std::string did_you_mean(std::string_view word,
                                       std::span<const std::string> candidates);

/// {"a", "b", "c"} -> "a, b or c": the alternatives an error message or a help line offers.
[[nodiscard]] std::string join_or(std::span<const std::string> items);

/// Parses "key=value,key=value" (spaces allowed around items); duplicate keys are an error.
/// `what` names the input in error messages, e.g. "--layout".
[[nodiscard]] std::vector<std::pair<std::string, std::string>>
parse_key_values(std::string_view text, std::string_view what);

/// Strict integer parse of the whole string; nullopt when it is not an integer.
[[nodiscard]] std::optional<std::int64_t> parse_int(std::string_view text);
/// Strict floating-point parse of the whole string.
[[nodiscard]] std::optional<double> parse_double(std::string_view text);

/// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
[[nodiscard]] bool is_valid_utf8(std::string_view text);
/// Offset of the first byte that does not start a valid UTF-8 sequence; nullopt when all do.
[[nodiscard]] std::optional<std::size_t> first_invalid_utf8(std::string_view text);
/// Offset of the first control byte a text file cannot hold (C0 but tab, LF and CR; DEL):
/// YAML's c-printable and XML's Char both exclude them, and a NUL cuts C parsers short.
[[nodiscard]] std::optional<std::size_t> first_control_byte(std::string_view text);
/// `text` with every byte that is not printable ASCII or part of valid UTF-8 written as \xNN
/// (control characters too), so outside input can be quoted in messages, logs and JSON.
[[nodiscard]] std::string printable(std::string_view text);

/// 1234567 -> "1,234,567".
[[nodiscard]] std::string with_thousands(std::int64_t value);
/// Bytes as GiB with one decimal, e.g. "71.3 GiB".
[[nodiscard]] std::string gib(double bytes);
/// 6.71e11 -> "671.0B", 3.7e10 -> "37.0B", 8.0e9 -> "8.0B", 1.2e6 -> "1.2M".
[[nodiscard]] std::string human_count(double value);
/// Seconds in a short human form: "850 ms", "12.4 s", "3.2 h".
[[nodiscard]] std::string human_seconds(double seconds);

} // namespace brix::util
