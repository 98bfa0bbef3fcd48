#pragma once
// Checks a `brix plan` request's numeric options before anything is searched or printed, so a
// bad value is one error line and never a report built on it (a negative MTBF, a β ≥ 1).

#include <brix/plan/plan_run.hpp>

namespace brix::plan {

/// The most plans --top shows: each is costed in detail (stage split, recomputation by a dynamic
/// program of ~0.1 s, checkpoint), and a larger top K weakens the search's bound pruning.
inline constexpr int k_max_top = 100;

/// Throws InputError naming the option: `--gpu-mtbf-hours: -5 must be > 0 (expected …)`.
void check_plan_request(const PlanRequest& request);

} // namespace brix::plan
