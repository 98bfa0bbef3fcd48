#pragma once
// JSON syntax errors (nlohmann::json::parse_error) as brix's one-line input errors, located at the
// line of the text where parsing stopped; numbers too large for any JSON number type
// (nlohmann::json::out_of_range 406, which carries no position) at the file.

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace brix::util {

/// The 1-based line of `text` holding the byte where `error` stopped.
[[nodiscard]] int json_error_line(std::string_view text, const nlohmann::json::parse_error& error);

/// nlohmann's explanation without its "[json.exception...] parse error at line L, column C: " prefix.
[[nodiscard]] std::string json_error_reason(const nlohmann::json::parse_error& error);

/// Throws InputError "<file>:<line>: malformed JSON: <reason> (<expected>)".
[[noreturn]] void fail_json_syntax(std::string_view file, std::string_view text,
                                   const nlohmann::json::parse_error& error, std::string_view expected);

/// Throws InputError "<file>: a number in the JSON is out of range: <reason> (<expected>)".
[[noreturn]] void fail_json_number(std::string_view file, const nlohmann::json::out_of_range& error,
                                   std::string_view expected);

} // namespace brix::util
