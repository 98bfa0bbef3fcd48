// Rendering a ReshardSummary.
#include <brix/shard/reshard_report.hpp>

#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::shard {

double ReshardSummary::rate() const {
  return stats.seconds > 0 ? static_cast<double>(stats.bytes_written) / stats.seconds : 0.0;
}

nlohmann::ordered_json to_json(const ReshardSummary& summary) {
  const auto& stats = summary.stats;
  return {{"out", summary.out_dir},
          {"files", stats.files},
          {"tensors", stats.tensors},
          {"bytes_read", stats.bytes_read},
          {"bytes_written", stats.bytes_written},
          {"seconds", stats.seconds},
          {"bytes_per_second", summary.rate()},
          {"threads", stats.threads}};
}

std::string to_text(const ReshardSummary& summary) {
  const auto& stats = summary.stats;
  return fmt::format("{} {}: {} files, {} tensors, {} read, {} written in {} ({}/s, {} threads)\n", summary.verb,
                     summary.out_dir, stats.files, stats.tensors, util::gib(static_cast<double>(stats.bytes_read)),
                     util::gib(static_cast<double>(stats.bytes_written)), util::human_seconds(stats.seconds),
                     util::gib(summary.rate()), stats.threads);
}

} // namespace brix::shard
