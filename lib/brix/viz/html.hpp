#pragma once
// Self-contained HTML pages: one file with inline CSS (and, for live pages, inline script),
// nothing fetched from anywhere, so a page opens offline, from a file or over an SSH tunnel.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace brix::viz {

/// The stylesheet every brix page shares (system fonts, light background, tables, figures).
[[nodiscard]] std::string_view page_style();

struct Page {
  std::string title;
  std::string subtitle; ///< one line under the title (what, where, when)
  std::string body;     ///< sections, already HTML
  std::string style;    ///< extra CSS after page_style()
  std::string script;   ///< inline JavaScript at the end of the body; empty for static pages
};
/// The whole document: <!DOCTYPE html> … </html>.
[[nodiscard]] std::string html_document(const Page& page);

/// <section id="id"><h2>heading</h2>content</section>; `note` (plain text) is a caption under
/// the heading.
[[nodiscard]] std::string section(std::string_view id, std::string_view heading, std::string_view content,
                                  std::string_view note = {});

struct TableColumn {
  std::string heading;
  bool numeric = false; ///< right-aligned
};
/// A table of plain-text cells (escaped here); `row_classes[i]`, when given, classes row i.
[[nodiscard]] std::string html_table(const std::vector<TableColumn>& columns,
                                     const std::vector<std::vector<std::string>>& rows,
                                     const std::vector<std::string>& row_classes = {}, std::string_view id = {});

/// A headline number: <div class="figure" id="id"><b>value</b><span>label</span></div>.
[[nodiscard]] std::string figure(std::string_view value, std::string_view label, std::string_view id);

/// Reasons with counts, each with a bar as long as its share of the largest count.
struct CountedReason {
  std::string reason;
  std::int64_t count = 0;
};
/// <table id="id">: a row per reason (as given), its count and its bar.
[[nodiscard]] std::string reasons_table(const std::vector<CountedReason>& reasons, std::string_view heading,
                                        std::string_view id);

} // namespace brix::viz
