#include <brix/plan/batch_settings.hpp>

#include <brix/util/error.hpp>

#include <cmath>
#include <fmt/format.h>

namespace brix::plan {

double scale_learning_rate(double base_lr, std::int64_t base_batch, std::int64_t new_batch, bool adam) {
  const double ratio = static_cast<double>(new_batch) / static_cast<double>(base_batch);
  return base_lr * (adam ? std::sqrt(ratio) : ratio);
}

BetaScaling scale_lamb_beta(double beta_base, int nodes) {
  if (!(beta_base > 0.0 && beta_base < 1.0)) {
    throw InputError(fmt::format("LAMB beta {} is outside (0, 1)", beta_base));
  }
  if (nodes < 1) {
    throw InputError(fmt::format("LAMB beta scaling needs at least one node (got {})", nodes));
  }
  BetaScaling out;
  out.requested = beta_base * (1.0 + 0.05 * std::log(static_cast<double>(nodes)));
  out.value = out.requested;
  if (out.requested >= 1.0) {
    // β ≥ 1 makes Adam's moment estimates diverge: refuse the scaling, keep β_base.
    out.value = beta_base;
    out.clamped = true;
    out.warning = fmt::format("beta {} × (1 + 0.05·ln {}) = {:.6f} is not below 1; scaling refused, "
                              "keeping {}", beta_base, nodes, out.requested, beta_base);
  }
  return out;
}

} // namespace brix::plan
