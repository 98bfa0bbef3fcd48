#pragma once
// Batch and optimizer settings that scale with parallelism.

#include <cstdint>
#include <optional>
#include <string>

namespace brix::plan {

/// Learning rate for a new batch size: square-root scaling for Adam-family optimizers
/// (Malladi et al. 2022), linear for SGD (Goyal et al. 2017).
[[nodiscard]] double scale_learning_rate(double base_lr, std::int64_t base_batch, std::int64_t new_batch, bool adam);

/// A rule of thumb with no published source (not from the LAMB paper, You et al. 2020), computed only on
/// request: β_N = β_base·(1 + 0.05·ln N) for N nodes. Adam/LAMB need β in (0, 1):
/// when the scaled value leaves that interval the scaling is refused (β_base kept, warning set).
struct BetaScaling {
  double requested = 0; ///< β_base·(1 + 0.05·ln N)
  double value = 0;     ///< what to use: requested, or clamped below 1
  bool clamped = false;
  std::string warning;  ///< empty unless clamped
};
[[nodiscard]] BetaScaling scale_lamb_beta(double beta_base, int nodes);

} // namespace brix::plan
