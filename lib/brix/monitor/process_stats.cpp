#include <brix/monitor/process_stats.hpp>

#include <brix/util/strings.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace brix::monitor {

std::optional<ProcessSample> parse_proc_stat(std::string_view text, long ticks_per_second,
                                             long page_size) {
  // The command name (field 2) is in parentheses and may itself hold spaces and ')'.
  const auto close = text.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) {
    return std::nullopt;
  }
  std::vector<std::string> fields;
  for (auto& field : util::split(util::trim(text.substr(close + 1)), ' ')) {
    if (!field.empty()) {
      fields.push_back(std::move(field));
    }
  }
  // fields[0] is field 3 (state); field N is fields[N - 3].
  if (fields.size() < 22 || fields[0] == "Z" || fields[0] == "X") {
    return std::nullopt;
  }
  const auto utime = util::parse_int(fields[11]);
  const auto stime = util::parse_int(fields[12]);
  const auto rss = util::parse_int(fields[21]);
  if (!utime || !stime || !rss) {
    return std::nullopt;
  }
  ProcessSample sample;
  sample.cpu_seconds = static_cast<double>(*utime + *stime) / static_cast<double>(ticks_per_second);
  sample.rss_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(*rss, 0)) *
                     static_cast<std::uint64_t>(page_size);
  return sample;
}

std::optional<ProcessSample> ProcProcessStats::sample(int pid) const {
  if (pid <= 0) {
    return std::nullopt;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) {
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  static const long page = ::sysconf(_SC_PAGESIZE);
  return parse_proc_stat(text.str(), ticks, page);
}

} // namespace brix::monitor
