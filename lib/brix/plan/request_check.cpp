#include <brix/plan/request_check.hpp>

#include <brix/util/error.hpp>

#include <cmath>
#include <fmt/format.h>

namespace brix::plan {

namespace {

void require_positive(double value, std::string_view option, std::string_view expected) {
  if (!std::isfinite(value) || value <= 0.0) {
    throw InputError(fmt::format("{}: {} must be > 0 (expected {})", option, value, expected));
  }
}

} // namespace

void check_plan_request(const PlanRequest& request) {
  if (request.top < 1 || request.top > k_max_top) {
    throw InputError(fmt::format("--top {}: shows 1 to {} plans (expected a number of plans in that range; --format "
                                 "json gives every plan shown with all its details)",
                                 request.top, k_max_top));
  }
  require_positive(request.checkpoint.gpu_mtbf_hours, "--gpu-mtbf-hours",
                   "a per-GPU mean time between failures in hours, e.g. 50000");
  if (!std::isfinite(request.checkpoint.restart_overhead_s) || request.checkpoint.restart_overhead_s < 0.0) {
    throw InputError(fmt::format("--restart-s: {} must be >= 0 (expected seconds to relaunch a job, e.g. 300)",
                                 request.checkpoint.restart_overhead_s));
  }
  if (request.checkpoint.storage_write_gb_per_s) {
    require_positive(*request.checkpoint.storage_write_gb_per_s, "--storage-gb-per-s",
                     "the storage write bandwidth in GB/s, e.g. 100");
  }
  if (request.price) {
    require_positive(*request.price, "--price", "a price per GPU-hour, e.g. 2.5");
  }
  if (request.base_lr) {
    require_positive(*request.base_lr, "--base-lr", "the learning rate tuned at --base-batch, e.g. 3e-4");
  }
  if (request.base_lr && request.base_batch <= 0) {
    throw InputError(fmt::format("--base-batch: {} must be > 0 (expected the global batch --base-lr was tuned at)",
                                 request.base_batch));
  }
  for (const double beta : request.lamb_betas) {
    if (!(beta > 0.0 && beta < 1.0)) {
      throw InputError(fmt::format("--lamb-beta: {} is outside (0, 1) (expected an Adam/LAMB beta such as 0.9 or 0.999)",
                                   beta));
    }
  }
}

} // namespace brix::plan
