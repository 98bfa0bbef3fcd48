#pragma once
// A checkpoint writer for fault tests and benchmarks (`brix-worker checkpoint-stress`): saves a
// sequence of checkpoints whose content is a pure function of the step, a tenth of the chunks
// changing from one step to the next, so a test can kill it anywhere and check what survives —
// at a random time, or exactly at one of its durable steps (StressOptions::crash_at).

#include <cstdint>
#include <iosfwd>
#include <string>

namespace brix::checkpoint {

struct StressOptions {
  std::string dir;
  std::string mirror;
  std::uint64_t bytes = 4 << 20;
  std::uint64_t chunk_size = 64 << 10;
  int saves = 1000;
  int keep = 3;
  /// ≥ 1: SIGKILL at this durable step of the writer (crash_points.hpp); 0: never.
  std::int64_t crash_at = 0;
};

/// The data of checkpoint `step`: chunk i is regenerated at steps where i % 10 == step % 10, so
/// 10% of the chunks differ from step − 1.
[[nodiscard]] std::string stress_data(std::int64_t step, std::uint64_t bytes, std::uint64_t chunk_size);

/// Continues after the store's latest step; prints "saved step N (new/total bytes)" per save.
int run_stress(const StressOptions& options, std::ostream& out);

} // namespace brix::checkpoint
