#include <brix/plan/batch_split.hpp>

#include <algorithm>

namespace brix::plan {

std::optional<BatchSplit> BatchSplit::of(std::int64_t global, std::int64_t micro, std::int64_t data_parallel) {
  if (global <= 0 || micro <= 0 || data_parallel <= 0 || global % (micro * data_parallel) != 0) {
    return std::nullopt;
  }
  return BatchSplit{global, micro, global / (micro * data_parallel), data_parallel};
}

std::optional<BatchSplit> BatchSplit::of(const Layout& layout, const TrainingShape& shape) {
  return of(shape.global_batch, layout.micro_batch, layout.dp);
}

std::int64_t micro_batches_per_step(const Layout& layout, const TrainingShape& shape) {
  if (shape.global_batch <= 0) {
    return static_cast<std::int64_t>(std::max(1, layout.pp) * std::max(1, layout.vpp));
  }
  if (const auto split = BatchSplit::of(layout, shape)) {
    return split->accumulation;
  }
  const std::int64_t per_step =
      shape.global_batch / (static_cast<std::int64_t>(std::max(1, layout.micro_batch)) * std::max(1, layout.dp));
  return std::max<std::int64_t>(per_step, 1);
}

} // namespace brix::plan
