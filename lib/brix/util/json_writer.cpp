// JsonWriter: commas by a stack of "first item" flags; strings escaped byte by byte.
#include <brix/util/json_writer.hpp>

#include <brix/util/strings.hpp>

#include <cmath>
#include <fmt/format.h>
#include <iterator>

namespace brix::util {
namespace {

void append_escaped_byte(std::string& out, unsigned char byte) {
  switch (byte) {
  case '"': out += "\\\""; return;
  case '\\': out += "\\\\"; return;
  case '\b': out += "\\b"; return;
  case '\f': out += "\\f"; return;
  case '\n': out += "\\n"; return;
  case '\r': out += "\\r"; return;
  case '\t': out += "\\t"; return;
  default:
    if (byte < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", byte);
    } else {
      out += static_cast<char>(byte);
    }
  }
}

/// Length of the valid UTF-8 sequence starting at `text[0]`, 0 when it is not one.
std::size_t utf8_sequence(std::string_view text) {
  const auto lead = static_cast<unsigned char>(text[0]);
  const std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
  if (length == 0 || length > text.size()) {
    return 0;
  }
  return is_valid_utf8(text.substr(0, length)) ? length : 0;
}

} // namespace

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  if (is_valid_utf8(text)) {
    for (const char c : text) {
      append_escaped_byte(out, static_cast<unsigned char>(c));
    }
  } else {
    while (!text.empty()) {
      const auto length = utf8_sequence(text);
      if (length == 0) {
        out += "\\ufffd";
        text.remove_prefix(1);
      } else if (length == 1) {
        append_escaped_byte(out, static_cast<unsigned char>(text[0]));
        text.remove_prefix(1);
      } else {
        out.append(text.substr(0, length));
        text.remove_prefix(length);
      }
    }
  }
  out += '"';
}

void JsonWriter::separate() {
  if (m_after_key) {
    m_after_key = false;
    return;
  }
  if (!m_first.empty()) {
    if (!m_first.back()) {
      m_out += ',';
    }
    m_first.back() = false;
  }
}

JsonWriter& JsonWriter::begin_object() {
  separate();
  m_out += '{';
  m_first.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  m_first.pop_back();
  m_out += '}';
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  separate();
  m_out += '[';
  m_first.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  m_first.pop_back();
  m_out += ']';
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  separate();
  append_json_string(m_out, name);
  m_out += ':';
  m_after_key = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
  separate();
  append_json_string(m_out, text);
  return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
  separate();
  m_out += flag ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::value(double number) {
  separate();
  if (!std::isfinite(number)) {
    m_out += "null";
    return *this;
  }
  const auto start = m_out.size();
  fmt::format_to(std::back_inserter(m_out), "{}", number);
  if (m_out.find_first_of(".e", start) == std::string::npos) {
    m_out += ".0";
  }
  return *this;
}

JsonWriter& JsonWriter::value(std::int64_t number) {
  separate();
  fmt::format_to(std::back_inserter(m_out), "{}", number);
  return *this;
}

JsonWriter& JsonWriter::value(std::uint64_t number) {
  separate();
  fmt::format_to(std::back_inserter(m_out), "{}", number);
  return *this;
}

JsonWriter& JsonWriter::null() {
  separate();
  m_out += "null";
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
  separate();
  m_out += json;
  return *this;
}

JsonWriter& JsonWriter::newline() {
  m_out += '\n';
  return *this;
}

} // namespace brix::util
