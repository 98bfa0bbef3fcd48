#pragma once
// One way to print a report, for every command: a report is a value with free functions beside
// its type, found by argument-dependent lookup —
//   to_json(const R&)                           the document for --format json and yaml
//   to_text(const R&, const Style&) or to_text(const R&)   the text report
//   yaml_document(const R&)                     optional: a different YAML document (a node's
//                                               probe report is a cluster file in YAML)
// — and print() picks one by --format. Commands compute values; nothing else renders.

#include <brix/util/output.hpp>

#include <iostream>

namespace brix::util {

/// Writes `report` to `out` as text (with `style`), pretty JSON or YAML.
template <class Report>
void print(const Report& report, Format format, std::ostream& out, const Style& style) {
  if (format == Format::text) {
    if constexpr (requires { to_text(report, style); }) {
      out << to_text(report, style);
    } else {
      out << to_text(report);
    }
    return;
  }
  if constexpr (requires { yaml_document(report); }) {
    if (format == Format::yaml) {
      out << to_yaml(yaml_document(report));
      return;
    }
  }
  emit_document(out, to_json(report), format);
}

/// Writes `report` to standard output, coloured when stdout_style() says so.
template <class Report>
void print(const Report& report, Format format) {
  print(report, format, std::cout, stdout_style());
}

} // namespace brix::util
