#pragma once
// The node collector's state (the node agent side): ranks' reports come in as datagrams, and
// each interval it samples /proc and NVML and produces one NodeSample for the job's monitor
// endpoint. No sockets or threads here (collector_agent.hpp runs it), so it is unit-tested with
// a fake clock, fake processes and a fake GPU source.

#include <brix/monitor/clock.hpp>
#include <brix/monitor/gpu_stats.hpp>
#include <brix/monitor/node_sample.hpp>
#include <brix/monitor/process_stats.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace brix::monitor {

class NodeCollector {
public:
  /// Step records kept between two samples at most (older ones are dropped and counted).
  static constexpr std::size_t k_max_buffered_steps = 100'000;

  NodeCollector(std::string node, const ProcessStats& processes, GpuSource& gpus, const Clock& clock);

  /// A rank the launcher started (known before it reports anything).
  void expect_rank(int rank, int pid);
  /// One datagram: one or more report lines from process `pid` (0 = unknown).
  void ingest(std::string_view text, int pid);
  /// The sample to forward; clears the buffered step records.
  [[nodiscard]] NodeSample sample();

  [[nodiscard]] std::uint64_t dropped_steps() const { return m_dropped_steps; }
  [[nodiscard]] const std::string& node() const { return m_node; }

private:
  struct Rank {
    RankSample sample;
    double cpu_seconds_before = -1; ///< at the previous sample
    double cpu_time_before = 0;
  };

  std::string m_node;
  const ProcessStats& m_processes;
  GpuSource& m_gpus;
  const Clock& m_clock;
  std::map<int, Rank> m_ranks;
  std::deque<StepRecord> m_steps;
  std::uint64_t m_dropped_steps = 0;
  std::uint64_t m_rejected = 0;
  std::string m_last_rejection;
};

} // namespace brix::monitor
