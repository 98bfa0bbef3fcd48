// Page skeleton, sections and tables for brix's HTML pictures.
#include <brix/viz/html.hpp>

#include <brix/util/strings.hpp>
#include <brix/viz/palette.hpp>
#include <brix/viz/svg.hpp>

#include <algorithm>

#include <fmt/format.h>

namespace brix::viz {

std::string_view page_style() {
  return R"css(
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px 32px; color: #222; background: #fafafa;
       font-size: 14px; line-height: 1.4; }
h1 { font-size: 22px; margin: 0 0 2px 0; }
h2 { font-size: 17px; margin: 0 0 6px 0; overflow-wrap: anywhere; }
.subtitle { color: #555; margin-bottom: 18px; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 14px 18px; margin-bottom: 18px; }
.note { color: #555; margin: 0 0 10px 0; max-width: 1100px; }
figure { margin: 0; overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e5e5e5; text-align: left; white-space: nowrap; }
th { background: #f0f0f0; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: #eef5ff; font-weight: 600; }
.figures { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 6px 0 10px 0; }
.figure b { font-size: 18px; display: block; }
.figure span { color: #555; font-size: 12px; }
.warn { color: #a03000; }
)css";
}

std::string html_document(const Page& page) {
  return fmt::format("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<meta name=\"generator\" content=\"brix\">\n<title>{}</title>\n<style>{}{}</style>\n</head>\n"
                     "<body>\n<h1>{}</h1>\n<div class=\"subtitle\">{}</div>\n{}{}</body>\n</html>\n",
                     escape_xml(page.title), page_style(), page.style, escape_xml(page.title),
                     escape_xml(page.subtitle), page.body,
                     page.script.empty() ? std::string() : fmt::format("<script>\n{}\n</script>\n", page.script));
}

std::string section(std::string_view id, std::string_view heading, std::string_view content, std::string_view note) {
  return fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n{}{}\n</section>\n", escape_xml(id), escape_xml(heading),
                     note.empty() ? std::string() : fmt::format("<p class=\"note\">{}</p>\n", escape_xml(note)), content);
}

std::string html_table(const std::vector<TableColumn>& columns, const std::vector<std::vector<std::string>>& rows,
                       const std::vector<std::string>& row_classes, std::string_view id) {
  std::string out = id.empty() ? "<table>\n<tr>" : fmt::format("<table id=\"{}\">\n<tr>", escape_xml(id));
  for (const auto& column : columns) {
    out += fmt::format("<th{}>{}</th>", column.numeric ? " class=\"num\"" : "", escape_xml(column.heading));
  }
  out += "</tr>\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const bool classed = r < row_classes.size() && !row_classes[r].empty();
    out += classed ? fmt::format("<tr class=\"{}\">", escape_xml(row_classes[r])) : "<tr>";
    for (std::size_t c = 0; c < rows[r].size(); ++c) {
      const bool numeric = c < columns.size() && columns[c].numeric;
      out += fmt::format("<td{}>{}</td>", numeric ? " class=\"num\"" : "", escape_xml(rows[r][c]));
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string figure(std::string_view value, std::string_view label, std::string_view id) {
  return fmt::format("<div class=\"figure\" id=\"{}\"><b>{}</b><span>{}</span></div>", escape_xml(id), escape_xml(value),
                     escape_xml(label));
}

std::string reasons_table(const std::vector<CountedReason>& reasons, std::string_view heading, std::string_view id) {
  std::int64_t largest = 1;
  for (const auto& reason : reasons) {
    largest = std::max(largest, reason.count);
  }
  std::string out = fmt::format("<table id=\"{}\">\n<tr><th>{}</th><th class=\"num\">layouts</th><th></th></tr>\n",
                                escape_xml(id), escape_xml(heading));
  for (const auto& reason : reasons) {
    const double width = 240.0 * static_cast<double>(reason.count) / static_cast<double>(largest);
    out += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td><td><svg width=\"244\" height=\"12\" aria-hidden=\"true\">"
                       "<rect width=\"{}\" height=\"12\" fill=\"{}\"/></svg></td></tr>\n",
                       escape_xml(reason.reason), util::with_thousands(reason.count), coordinate(std::max(1.0, width)),
                       colour::bad);
  }
  return out + "</table>\n";
}

} // namespace brix::viz
