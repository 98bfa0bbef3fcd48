#pragma once
// `brix plan --measured FILE --plan PLAN`: the running plan's stage split rebalanced from the
// per-stage times `brix monitor --save-measured` wrote.

#include <brix/util/output.hpp>

#include <ostream>
#include <string>

namespace brix::plan {

struct RebalanceRequest {
  std::string measured;   ///< brix_measured YAML
  std::string plan;       ///< plan.yaml the job ran
  std::string software = "modern";
  std::string emit;       ///< "" or "yaml": the rebalanced plan
  std::string output;     ///< -o for --emit
  util::Format format = util::Format::text;
};

/// 0: report written (also when the running split is already the best).
int run_rebalance(const RebalanceRequest& request, std::ostream& out);

} // namespace brix::plan
