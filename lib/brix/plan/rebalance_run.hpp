#pragma once
// `brix plan --measured FILE --plan PLAN`: the running plan's stage split rebalanced from the
// per-stage times `brix monitor --save-measured` wrote, as a report value (rendered in
// rebalance_report.cpp).

#include <brix/plan/plan_file.hpp>
#include <brix/plan/rebalance.hpp>
#include <brix/util/output.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace brix::plan {

struct RebalanceRequest {
  std::string measured;   ///< brix_measured YAML
  std::string plan;       ///< plan.yaml the job ran
  std::string software = "modern";
  std::string emit;       ///< "" or "yaml": the rebalanced plan
};

struct RebalanceReport {
  std::string plan_path;
  std::string measured_path;
  std::string job;        ///< the measured job's name ("" when the file has none)
  std::string model;      ///< model name
  std::string cluster;    ///< cluster name
  PlanFile plan;          ///< the plan the job ran
  Rebalance rebalance;
};

/// Checks the request (an --emit other than yaml is an InputError), then rebalances.
[[nodiscard]] RebalanceReport run_rebalance(const RebalanceRequest& request);

/// Always a report (also when the running split is already the best).
[[nodiscard]] nlohmann::ordered_json to_json(const RebalanceReport& report);
[[nodiscard]] std::string to_text(const RebalanceReport& report);

} // namespace brix::plan
