#pragma once
// Compact JSON text written straight into a string, for documents of thousands of items written
// every second (the monitor's snapshot at 16,384 ranks), where building a DOM first and dumping
// it cost more than the rest of the monitor. The caller writes a well-formed sequence (keys only
// inside objects, one value after each key); the writer places commas and escapes strings.
// Numbers print as nlohmann::json prints them: shortest round-trip, a float always with a '.' or
// an exponent, NaN and infinities as null. Invalid UTF-8 bytes become U+FFFD.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::util {

class JsonWriter {
public:
  explicit JsonWriter(std::string& out) : m_out(out) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
  JsonWriter& value(bool flag);
  JsonWriter& value(double number);
  JsonWriter& value(int number) { return value(static_cast<std::int64_t>(number)); }
  JsonWriter& value(std::int64_t number);
  JsonWriter& value(std::uint64_t number);
  JsonWriter& null();
  /// One value already encoded as JSON.
  JsonWriter& raw(std::string_view json);

  /// key then value.
  template <typename T>
  JsonWriter& field(std::string_view name, const T& item) {
    key(name);
    return value(item);
  }
  /// key then value when `item` holds one; nothing otherwise (absent, never a made-up 0).
  template <typename T>
  JsonWriter& optional_field(std::string_view name, const std::optional<T>& item) {
    return item ? field(name, *item) : *this;
  }
  /// A line break between items (whitespace, so the text stays one document).
  JsonWriter& newline();

private:
  void separate();

  std::string& m_out;
  std::vector<bool> m_first; ///< per open container: nothing written in it yet
  bool m_after_key = false;
};

/// `text` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view text);

} // namespace brix::util
