#pragma once
// What a node collector sends to the job's monitor endpoint each interval: its ranks' latest
// state, every step time reported since the last sample, and the node's GPU figures.
// Sent as one JSON object per line (to_json / node_sample_from_json).

#include <brix/monitor/gpu_stats.hpp>
#include <brix/util/json_writer.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace brix::monitor {

/// One step time as reported by a rank.
struct StepRecord {
  int rank = 0;
  std::int64_t step = 0;
  double seconds = 0;
  std::optional<double> compute_seconds;
  double time = 0; ///< when the collector received it (unix s)
};

struct RankSample {
  int rank = 0;
  int pid = 0;
  std::optional<int> stage;
  std::int64_t step = -1; ///< last step reported (-1: none yet)
  std::optional<double> step_seconds;
  std::optional<double> compute_seconds;
  double last_report = 0;  ///< unix s of the last report (step or heartbeat)
  bool alive = true;       ///< false once the process is gone
  std::optional<double> cpu_percent; ///< over the last interval, 100 = one core
  std::optional<std::uint64_t> rss_bytes;
  double cpu_seconds = 0;  ///< total user + system time
  std::vector<std::pair<std::string, double>> values; ///< latest named values
};

struct NodeSample {
  std::string node;
  double time = 0;
  std::vector<RankSample> ranks;
  std::vector<StepRecord> steps; ///< reported since the previous sample
  GpuReadout gpus;
  std::uint64_t rejected_lines = 0; ///< malformed reports since start
  std::string last_rejection;
};

[[nodiscard]] nlohmann::json to_json(const NodeSample& sample);
/// Throws InputError on a malformed document.
[[nodiscard]] NodeSample node_sample_from_json(const nlohmann::json& document);

[[nodiscard]] nlohmann::json to_json(const GpuFigures& gpu);
/// The same object as to_json(gpu), written as text.
void write_json(util::JsonWriter& out, const GpuFigures& gpu);
[[nodiscard]] GpuFigures gpu_from_json(const nlohmann::json& document);

} // namespace brix::monitor
