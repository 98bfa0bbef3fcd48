#include <brix/util/cpu_list.hpp>

#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::util {

std::optional<std::vector<CpuRange>> parse_cpu_list(std::string_view text) {
  std::vector<CpuRange> out;
  if (trim(text).empty()) {
    return out;
  }
  for (const auto& item : split(text, ',')) {
    const auto dash = item.find('-');
    const auto first = parse_int(item.substr(0, dash));
    const auto last = dash == std::string::npos ? first : parse_int(item.substr(dash + 1));
    if (!first || !last || *first < 0 || *last < *first || *last > 1'000'000) {
      return std::nullopt;
    }
    out.push_back({static_cast<int>(*first), static_cast<int>(*last)});
  }
  return out;
}

std::string format_cpu_list(const std::vector<CpuRange>& ranges) {
  std::vector<CpuRange> merged;
  for (const auto& range : ranges) {
    if (!merged.empty() && merged.back().last + 1 == range.first) {
      merged.back().last = range.last;
    } else {
      merged.push_back(range);
    }
  }
  std::string out;
  for (const auto& range : merged) {
    if (!out.empty()) {
      out += ',';
    }
    out += range.first == range.last ? fmt::format("{}", range.first)
                                     : fmt::format("{}-{}", range.first, range.last);
  }
  return out;
}

int cpu_count(const std::vector<CpuRange>& ranges) {
  int count = 0;
  for (const auto& range : ranges) {
    count += range.last - range.first + 1;
  }
  return count;
}

std::vector<CpuRange> cpu_list_part(const std::vector<CpuRange>& ranges, int part, int parts) {
  std::vector<CpuRange> out;
  if (parts <= 0 || part < 0 || part >= parts) {
    return out;
  }
  for (const auto& range : ranges) {
    const int size = range.last - range.first + 1;
    const int base = size / parts;
    const int extra = size % parts;
    const int begin = range.first + part * base + std::min(part, extra);
    const int length = base + (part < extra ? 1 : 0);
    if (length > 0) {
      out.push_back({begin, begin + length - 1});
    }
  }
  return out;
}

} // namespace brix::util
