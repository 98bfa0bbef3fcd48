#pragma once
// The value `brix plan --serve` computes: per node group the search's ranked plans, Pareto front
// and rejections, the workload and engine they were costed for, and the decisions brix made on
// the user's behalf (default workload, weight format per GPU, mixed clusters). Rendered by
// to_json / to_text (serve_report.cpp, serve_report_text.cpp); emitters read the best plan.

#include <brix/cluster/cluster.hpp>
#include <brix/model/model.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/search.hpp>
#include <brix/util/output.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace brix::serve {

/// One node group's search.
struct GroupPlans {
  cluster::NodeGroup group;
  WeightPrecision weights = WeightPrecision::bf16;
  std::string weights_reason; ///< "the checkpoint's", "--precision", "--layout weights=", or why it differs
  SearchResult result;
};

/// A plan of the report's ranking, with the group it runs on.
struct RankedPlan {
  const GroupPlans* group = nullptr;
  const ServePlan* plan = nullptr;
};

struct ServeReport {
  model::ModelSpec model;
  cluster::ClusterSpec cluster;
  const EngineVersion* engine = nullptr;
  Workload workload;
  bool default_workload = false; ///< neither --concurrency nor --request-rate was given
  KvPrecision kv = KvPrecision::bf16;
  int mtp = 0;
  std::string layout_query;      ///< --layout as given
  std::vector<GroupPlans> groups;
  std::vector<std::string> notes; ///< decisions stated in the output
  int top = 5;
};

/// Every group's plans merged and ranked (meeting the SLOs, then output tokens/s per GPU), at
/// most `report.top`.
[[nodiscard]] std::vector<RankedPlan> ranked_plans(const ServeReport& report);
/// The Pareto front over every group.
[[nodiscard]] std::vector<RankedPlan> pareto_front(const ServeReport& report);
/// The best plan; JobError naming `target` when no layout fits.
[[nodiscard]] RankedPlan best_plan(const ServeReport& report, std::string_view target);

/// 0 when some group has a plan, 1 when none does (the report says why).
[[nodiscard]] int exit_code(const ServeReport& report);

/// Text of a duration for tables: "512.3 ms", "1.25 s", "12.5 s".
[[nodiscard]] std::string time_text(double seconds);
/// Text of a rate for tables: "1,234" from 100 up, else one decimal.
[[nodiscard]] std::string rate_text(double value);
/// A plan's layout in a table cell: "tp8 dp2 ep16 ×2", "P tp8 ep8 ×2 | D tp1 dp16 ep16 ×1"
/// (the expert fields only for MoE models).
[[nodiscard]] std::string short_layout(const ServePlan& plan, bool moe);

[[nodiscard]] nlohmann::ordered_json plan_to_json(const RankedPlan& ranked);
[[nodiscard]] nlohmann::ordered_json to_json(const ServeReport& report);
[[nodiscard]] std::string to_text(const ServeReport& report, const util::Style& style);

} // namespace brix::serve
