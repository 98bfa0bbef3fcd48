#pragma once
// Pipeline stage partitioning by dynamic programming: contiguous layer ranges, one per stage,
// minimising the slowest stage's time subject to each stage's memory budget. Stages may run on
// devices of different speed and memory (mixed clusters).

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace brix::plan {

/// One item of the chain: a decoder layer, or the embedding / head / MTP ends.
struct ChainItem {
  double time = 0;        ///< forward + backward seconds per micro-batch on a speed-1 device
  double static_bytes = 0;     ///< weights, gradients and optimizer states on the stage's GPU
  double activation_bytes = 0; ///< activations of one micro-batch kept until its backward
};

/// One pipeline stage's device.
struct StageDevice {
  double speed = 1.0;        ///< relative throughput (time divides by it)
  double memory_bytes = 0;   ///< budget for static + activations
  double in_flight = 1.0;    ///< micro-batches whose activations the stage holds at peak
};

struct StagePartition {
  std::vector<int> first; ///< first item of each stage; stage s covers first[s] .. first[s+1]-1
  double slowest_s = 0;   ///< time of the slowest stage
  std::vector<double> stage_s;
  std::vector<double> stage_bytes;
};

/// Optimal contiguous split of `items` over `devices.size()` stages (every stage non-empty);
/// nullopt when no split fits in memory. O(n²·p) at worst; ties go to the earliest cuts.
[[nodiscard]] std::optional<StagePartition> partition_stages(std::span<const ChainItem> items,
                                                             std::span<const StageDevice> devices);

/// The same answer by trying every split (for tests; exponential).
[[nodiscard]] std::optional<StagePartition> partition_stages_brute_force(std::span<const ChainItem> items,
                                                                         std::span<const StageDevice> devices);

/// Evaluates a given split (first item per stage); nullopt if a stage does not fit.
[[nodiscard]] std::optional<StagePartition> evaluate_partition(std::span<const ChainItem> items,
                                                               std::span<const StageDevice> devices,
                                                               std::span<const int> first);

/// Megatron's uniform split: equal layer counts, remainder spread from the last stage back.
[[nodiscard]] std::vector<int> uniform_partition(int items, int stages);

} // namespace brix::plan
