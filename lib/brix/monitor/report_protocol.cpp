#include <brix/monitor/report_protocol.hpp>

#include <brix/util/strings.hpp>

#include <cctype>
#include <fmt/format.h>
#include <limits>

namespace brix::monitor {

bool is_valid_key(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  const auto first = static_cast<unsigned char>(name.front());
  if (!std::isalpha(first) && first != '_') {
    return false;
  }
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

std::string format_report(const ProgressReport& report) {
  std::string line = fmt::format("rank={}", report.rank);
  if (report.step) {
    line += fmt::format(" step={}", *report.step);
  }
  if (report.step_seconds) {
    line += fmt::format(" time={:.9g}", *report.step_seconds);
  }
  if (report.compute_seconds) {
    line += fmt::format(" compute={:.9g}", *report.compute_seconds);
  }
  if (report.stage) {
    line += fmt::format(" stage={}", *report.stage);
  }
  for (const auto& [key, value] : report.values) {
    line += fmt::format(" {}={:.9g}", key, value);
  }
  return line;
}

namespace {
ParsedReport rejected(std::string error) { return ParsedReport{std::nullopt, std::move(error)}; }
} // namespace

ParsedReport parse_report(std::string_view line) {
  if (line.size() > k_max_report_bytes) {
    return rejected(fmt::format("line of {} bytes is longer than {}", line.size(), k_max_report_bytes));
  }
  // The protocol is ASCII; a stray byte (a torn write, a binary log line) is a bad line, and no
  // part of it may reach the JSON snapshots unescaped.
  for (const char c : line) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80 || (byte < 0x20 && c != '\t' && c != '\r')) {
      return rejected(fmt::format("byte 0x{:02x} is not printable ASCII", byte));
    }
  }
  ProgressReport report;
  bool has_rank = false;
  std::size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t' || line[pos] == '\r')) {
      ++pos;
    }
    if (pos >= line.size()) {
      break;
    }
    auto end = line.find_first_of(" \t\r", pos);
    if (end == std::string_view::npos) {
      end = line.size();
    }
    const auto field = line.substr(pos, end - pos);
    pos = end;
    const auto eq = field.find('=');
    if (eq == std::string_view::npos) {
      return rejected(fmt::format("'{}' is not key=value", field));
    }
    const auto key = field.substr(0, eq);
    const auto text = field.substr(eq + 1);
    if (!is_valid_key(key)) {
      return rejected(fmt::format("'{}' is not a valid key", key));
    }
    if (key == "rank" || key == "step" || key == "stage") {
      const auto value = util::parse_int(text);
      if (!value || *value < 0) {
        return rejected(fmt::format("{}='{}' is not a non-negative integer", key, text));
      }
      // rank and stage are ints; a larger value would wrap to another rank (fuzz.report_line:
      // rank=11125644947 came back from format_report as a different, negative rank).
      if (key != "step" && *value > std::numeric_limits<int>::max()) {
        return rejected(fmt::format("{}={} is beyond any job (at most {})", key, *value, std::numeric_limits<int>::max()));
      }
      if (key == "rank") {
        report.rank = static_cast<int>(*value);
        has_rank = true;
      } else if (key == "step") {
        report.step = *value;
      } else {
        report.stage = static_cast<int>(*value);
      }
      continue;
    }
    const auto value = util::parse_double(text);
    if (!value) {
      return rejected(fmt::format("{}='{}' is not a finite number", key, text));
    }
    if (key == "time" || key == "compute") {
      if (*value < 0) {
        return rejected(fmt::format("{}={} is negative", key, *value));
      }
      (key == "time" ? report.step_seconds : report.compute_seconds) = *value;
      continue;
    }
    for (const auto& [seen, unused] : report.values) {
      if (seen == key) {
        return rejected(fmt::format("'{}' given twice", key));
      }
    }
    report.values.emplace_back(std::string(key), *value);
  }
  if (!has_rank) {
    return rejected("no rank= field");
  }
  return ParsedReport{std::move(report), {}};
}

} // namespace brix::monitor
