#include <brix/monitor/job_dir.hpp>

#include <brix/util/strings.hpp>

namespace brix::monitor {

std::optional<int> JobDirLayout::attempt_of(std::string_view name) {
  if (!name.starts_with(k_attempt_prefix)) {
    return std::nullopt;
  }
  const auto attempt = util::parse_int(name.substr(k_attempt_prefix.size()));
  if (!attempt) {
    return std::nullopt;
  }
  return static_cast<int>(*attempt);
}

} // namespace brix::monitor
