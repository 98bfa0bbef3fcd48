#include <brix/util/json_error.hpp>

#include <brix/util/error.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace brix::util {

int json_error_line(std::string_view text, const nlohmann::json::parse_error& error) {
  // `byte` counts from 1 and may point one past the end (unexpected end of input).
  const auto stop = std::min<std::size_t>(error.byte > 0 ? error.byte - 1 : 0, text.size());
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(stop), '\n'));
}

namespace {
/// nlohmann's message without its "[json.exception.<kind>.<id>] " prefix.
std::string without_prefix(std::string message) {
  if (const auto at = message.find("] "); at != std::string::npos) {
    message.erase(0, at + 2);
  }
  return message;
}
} // namespace

std::string json_error_reason(const nlohmann::json::parse_error& error) {
  std::string message = without_prefix(error.what());
  // "parse error at line 2, column 1: syntax error ..." → "syntax error ..."
  if (message.starts_with("parse error at line ")) {
    if (const auto colon = message.find(": "); colon != std::string::npos) {
      message.erase(0, colon + 2);
    }
  }
  return message;
}

void fail_json_syntax(std::string_view file, std::string_view text, const nlohmann::json::parse_error& error,
                      std::string_view expected) {
  fail_input(file, json_error_line(text, error), fmt::format("malformed JSON: {}", json_error_reason(error)), expected);
}

void fail_json_number(std::string_view file, const nlohmann::json::out_of_range& error, std::string_view expected) {
  fail_input(file, 0, fmt::format("a number in the JSON is out of range: {}", without_prefix(error.what())), expected);
}

} // namespace brix::util
