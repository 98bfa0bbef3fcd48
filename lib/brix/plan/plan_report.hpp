#pragma once
// What one `brix plan` search finds, as a value: the ranked plans with their details, why a
// --layout that cannot run does not, the mixed cluster's stage-assignment plan and the optimizer
// settings. run_plan (plan_run.hpp) computes it; to_json and to_text render it
// (plan_report.cpp), util::print chooses between them.

#include <brix/cluster/cluster.hpp>
#include <brix/model/model.hpp>
#include <brix/plan/mixed.hpp>
#include <brix/plan/optimizer_advice.hpp>
#include <brix/plan/refine.hpp>
#include <brix/plan/search.hpp>
#include <brix/plan/search_report.hpp>
#include <brix/util/output.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::plan {

/// A --layout no layout of which runs: the complete layout closest to running, and why it cannot.
struct LayoutExplanation {
  Completion completion;
  LayoutVerdict verdict;
};

/// A search (without --layout) in which no layout fits, where the mixed planner found none
/// either: why, and the nearest global batches at which a layout does fit.
struct NoFit {
  std::string why;
  std::vector<std::int64_t> fitting_batches; ///< ascending; empty when the batch is not the obstacle
};

/// A plan Megatron-LM can run, for --emit megatron|torchrun when the best plan is not one.
struct MegatronPlan {
  PlanEstimate estimate;
  PlanDetails details;
};

struct PlanReport {
  model::ModelSpec model;
  cluster::ClusterSpec cluster;
  SearchOptions options;              ///< as searched (without the progress callback)
  std::optional<double> price;        ///< --price, per GPU-hour
  bool global_batch_proposed = false; ///< no --global-batch: propose_global_batch chose it
  OptimizerAdvice optimizer;
  SearchResult search;
  std::vector<PlanDetails> details;   ///< one per search.plans, in the same order
  std::optional<LayoutExplanation> explanation;
  std::optional<NoFit> no_fit;
  /// With an --emit target that writes Megatron-LM flags, when the best plan needs what
  /// Megatron-LM cannot run (emit.hpp, megatron_unsupported): the best plan it can run, if any.
  std::optional<MegatronPlan> megatron;
  std::optional<MixedResult> mixed;         ///< on a cluster of several GPU models
  std::optional<PlanDetails> mixed_details; ///< with mixed->best

  /// The context plan_to_json and search_to_text read (pointers into this report).
  [[nodiscard]] ReportContext context() const { return {&model, &cluster, &options, price}; }
};

/// 0 for a report with a plan; 1 when none can run: no layout fits the cluster (no_fit), or the
/// layout asked for with --layout cannot run.
[[nodiscard]] int exit_code(const PlanReport& report);
/// `brix: warning: …` lines for stderr (a refused LAMB β scaling).
[[nodiscard]] std::vector<std::string> warnings(const PlanReport& report);
/// The --format json|yaml document (keys in man/brix-plan.1).
[[nodiscard]] nlohmann::ordered_json to_json(const PlanReport& report);
/// The text report: ranked plans, the best plan's details, the explanation, the mixed plan and
/// the optimizer settings.
[[nodiscard]] std::string to_text(const PlanReport& report, const util::Style& style);

/// A plan's details as the keys merged into its JSON object: stages, stage_split,
/// recompute_plan (when there is one), checkpoint, batch.
[[nodiscard]] nlohmann::ordered_json details_to_json(const PlanDetails& details);
/// Stage split, recomputation, checkpoint and batch lines; `layers` for Megatron's split flags.
[[nodiscard]] std::string details_to_text(const PlanDetails& details, std::int64_t layers);

} // namespace brix::plan
