#include <brix/util/output.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <cstdlib>
#include <fmt/format.h>
#include <ostream>
#include <stdexcept>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

namespace brix::util {

Format parse_format(std::string_view name) {
  if (name == "text") {
    return Format::text;
  }
  if (name == "json") {
    return Format::json;
  }
  if (name == "yaml") {
    return Format::yaml;
  }
  const auto names = format_names();
  throw InputError(fmt::format("--format: unknown format '{}'{} (expected text, json or yaml)",
                               name, did_you_mean(name, names)));
}

std::vector<std::string> format_names() { return {"text", "json", "yaml"}; }

namespace {

/// Whether `text` written as a plain scalar would be read back as a number or a boolean rather
/// than this string ("0", "1.5", "true", "off"): those are written double-quoted, so a reader
/// that types its fields (Kubernetes' EnvVar.value is a string) gets the string back.
bool reads_as_non_string(const std::string& text) {
  if (text.empty()) {
    return false;
  }
  const YAML::Node plain(text);
  bool flag = false;
  double number = 0;
  return YAML::convert<bool>::decode(plain, flag) || YAML::convert<double>::decode(plain, number);
}

void emit_yaml(YAML::Emitter& out, const nlohmann::ordered_json& value) {
  switch (value.type()) {
  case nlohmann::ordered_json::value_t::object:
    out << YAML::BeginMap;
    for (const auto& [key, item] : value.items()) {
      out << YAML::Key << key << YAML::Value;
      emit_yaml(out, item);
    }
    out << YAML::EndMap;
    break;
  case nlohmann::ordered_json::value_t::array: {
    // Short arrays of scalars read best inline, as in hand-written YAML.
    bool scalars = value.size() <= 16;
    for (const auto& item : value) {
      scalars = scalars && !item.is_structured();
    }
    out << (scalars ? YAML::Flow : YAML::Block) << YAML::BeginSeq;
    for (const auto& item : value) {
      emit_yaml(out, item);
    }
    out << YAML::EndSeq;
    break;
  }
  case nlohmann::ordered_json::value_t::string: {
    const auto& text = value.get_ref<const std::string&>();
    if (reads_as_non_string(text)) {
      out << YAML::DoubleQuoted;
    }
    out << text;
    break;
  }
  case nlohmann::ordered_json::value_t::boolean:
    out << value.get<bool>();
    break;
  case nlohmann::ordered_json::value_t::number_integer:
    out << value.get<std::int64_t>();
    break;
  case nlohmann::ordered_json::value_t::number_unsigned:
    out << value.get<std::uint64_t>();
    break;
  case nlohmann::ordered_json::value_t::number_float:
    out << YAML::Precision(8) << value.get<double>();
    break;
  default:
    out << YAML::Null;
    break;
  }
}

} // namespace

std::string to_yaml(const nlohmann::ordered_json& document) {
  YAML::Emitter out;
  emit_yaml(out, document);
  return std::string(out.c_str()) + "\n";
}

void emit_document(std::ostream& out, const nlohmann::ordered_json& document, Format format) {
  switch (format) {
  case Format::json:
    out << document.dump(2) << '\n';
    return;
  case Format::yaml:
    out << to_yaml(document);
    return;
  case Format::text:
    break;
  }
  throw std::logic_error("emit_document: text output is rendered by the command");
}

bool use_colour(int fd) {
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour != nullptr && *no_colour != '\0') {
    return false;
  }
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") {
    return false;
  }
  return ::isatty(fd) == 1;
}

Table::Table(std::vector<std::string> header, std::vector<Align> align)
    : m_header(std::move(header)), m_align(std::move(align)) {
  m_align.resize(m_header.size(), Align::left);
}

void Table::add_row(std::vector<std::string> row) {
  row.resize(m_header.size());
  m_rows.push_back(std::move(row));
}

namespace {
/// Display width: counts UTF-8 code points, skips ANSI escape sequences.
std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0x1b) {
      while (i < text.size() && text[i] != 'm') {
        ++i;
      }
      continue;
    }
    if ((c & 0xC0) != 0x80) {
      ++width;
    }
  }
  return width;
}
} // namespace

std::string Table::render(std::size_t indent) const {
  std::vector<std::size_t> widths(m_header.size(), 0);
  for (std::size_t c = 0; c < m_header.size(); ++c) {
    widths[c] = display_width(m_header[c]);
    for (const auto& row : m_rows) {
      widths[c] = std::max(widths[c], display_width(row[c]));
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text(indent, ' ');
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::size_t pad = widths[c] - display_width(cells[c]);
      const bool last = c + 1 == cells.size();
      if (m_align[c] == Align::right) {
        text += std::string(pad, ' ') + cells[c];
      } else {
        text += cells[c];
        if (!last) {
          text += std::string(pad, ' ');
        }
      }
      if (!last) {
        text += "  ";
      }
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    out += text + '\n';
  };
  line(m_header);
  for (const auto& row : m_rows) {
    line(row);
  }
  return out;
}

namespace {
std::string wrap(bool colour, std::string_view code, std::string_view text) {
  if (!colour) {
    return std::string(text);
  }
  return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}
} // namespace

std::string Style::bold(std::string_view text) const { return wrap(colour, "1", text); }
std::string Style::dim(std::string_view text) const { return wrap(colour, "2", text); }
std::string Style::red(std::string_view text) const { return wrap(colour, "31", text); }
std::string Style::green(std::string_view text) const { return wrap(colour, "32", text); }
std::string Style::yellow(std::string_view text) const { return wrap(colour, "33", text); }

Style stdout_style() { return Style{use_colour(STDOUT_FILENO)}; }

} // namespace brix::util
