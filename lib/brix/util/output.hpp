#pragma once
// Report output shared by every command: `--format text|json|yaml`, aligned tables, colour.
// A report renders itself as one nlohmann::json document for json/yaml and as text; print()
// (util/print.hpp) chooses between them.

#include <nlohmann/json.hpp>

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace brix::util {

enum class Format { text, json, yaml };

/// "text" | "json" | "yaml"; anything else is an InputError naming `--format`.
[[nodiscard]] Format parse_format(std::string_view name);
[[nodiscard]] std::vector<std::string> format_names();

/// YAML rendering of a JSON document (block style, keys in document order).
[[nodiscard]] std::string to_yaml(const nlohmann::ordered_json& document);

/// Writes `document` as pretty JSON or YAML; Format::text is a logic error here.
void emit_document(std::ostream& out, const nlohmann::ordered_json& document, Format format);

/// Whether to colour output on this stream: a terminal, NO_COLOR unset, TERM not "dumb".
[[nodiscard]] bool use_colour(int fd);

enum class Align { left, right };

/// A plain aligned text table: a header row, then rows; columns padded to their widest cell.
class Table {
public:
  explicit Table(std::vector<std::string> header, std::vector<Align> align = {});
  void add_row(std::vector<std::string> row);
  [[nodiscard]] std::size_t rows() const { return m_rows.size(); }
  /// `indent` spaces before every line; columns separated by two spaces.
  [[nodiscard]] std::string render(std::size_t indent = 0) const;

private:
  std::vector<std::string> m_header;
  std::vector<Align> m_align;
  std::vector<std::vector<std::string>> m_rows;
};

/// Terminal styling that collapses to nothing when colour is off.
struct Style {
  bool colour = false;
  [[nodiscard]] std::string bold(std::string_view text) const;
  [[nodiscard]] std::string dim(std::string_view text) const;
  [[nodiscard]] std::string red(std::string_view text) const;
  [[nodiscard]] std::string green(std::string_view text) const;
  [[nodiscard]] std::string yellow(std::string_view text) const;
};

/// The style for standard output: colour when use_colour(STDOUT_FILENO).
[[nodiscard]] Style stdout_style();

} // namespace brix::util
