#pragma once
// The one home of the batch arithmetic: global batch = micro-batch × accumulation × data
// parallel. The search, the explanation, memory, step time, the emitters and plan files all
// split a batch through this.

#include <brix/plan/layout.hpp>

#include <cstdint>
#include <optional>

namespace brix::plan {

struct BatchSplit {
  std::int64_t global = 0;        ///< sequences per step
  std::int64_t micro = 0;         ///< sequences per micro-batch
  std::int64_t accumulation = 0;  ///< micro-batches per step on each data-parallel rank (the pipeline's m)
  std::int64_t data_parallel = 0;

  /// The split of `global` into micro-batches of `micro` over `data_parallel` ranks; nullopt
  /// when `global` is not a positive multiple of micro × data_parallel.
  [[nodiscard]] static std::optional<BatchSplit> of(std::int64_t global, std::int64_t micro,
                                                    std::int64_t data_parallel);
  /// The split a layout makes of a training shape's global batch (nullopt as above).
  [[nodiscard]] static std::optional<BatchSplit> of(const Layout& layout, const TrainingShape& shape);
};

/// Micro-batches per step for costing a layout whose batch may not split evenly (memory
/// reports, explanations): the split's accumulation when it splits, else the whole micro-batches
/// that fit, at least 1; with no global batch, pp × vpp (the fewest that fill the pipeline).
[[nodiscard]] std::int64_t micro_batches_per_step(const Layout& layout, const TrainingShape& shape);

} // namespace brix::plan
