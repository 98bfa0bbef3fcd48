#pragma once
// `brix plan` as a library call: load the model and cluster, search (or explain one layout),
// refine the best plans, plan a mixed cluster — and return it all as a PlanReport. Rendering is
// the report's (plan_report.hpp), --emit the target table's (emit_targets.hpp);
// tools/brix/cmd_plan.cpp only fills a PlanRequest and prints.

#include <brix/cluster/loader.hpp>
#include <brix/plan/plan_report.hpp>
#include <brix/plan/refine.hpp>
#include <brix/util/output.hpp>
#include <brix/util/progress.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::plan {

struct PlanRequest {
  std::string model = "deepseek-r1";
  cluster::ClusterChoice cluster;      ///< --cluster or the --nodes/--gpu shorthand
  std::int64_t seq_len = 0;            ///< 0: the model's default
  std::int64_t global_batch = 0;       ///< 0: proposed
  std::string precision = "bf16";
  std::string layout;                  ///< --layout
  int top = 5;
  int threads = 1;
  std::optional<double> price;         ///< per GPU-hour
  std::string emit;                    ///< an emit_targets() name, or "" for the report
  util::Format format = util::Format::text;
  std::string software = "modern";
  CheckpointOptions checkpoint;
  std::vector<double> lamb_betas;      ///< --lamb-beta: scaled for the plan's node count
  std::optional<double> base_lr;       ///< with base_batch: LR suggestion for the chosen batch
  std::int64_t base_batch = 0;
};

inline constexpr const char* k_default_cluster = "example-deployment";

/// The proposed global batch when none is asked for: the odd part of the GPU count times the
/// power of two that comes nearest 4M tokens per step (so that every data-parallel size the GPU
/// count allows divides it), at least one sequence per 8 GPUs.
[[nodiscard]] std::int64_t propose_global_batch(std::int64_t seq_len, int gpus);

/// Checks the request (bad options and --emit targets are InputErrors, before any work), then
/// runs it, telling `progress` how far the search and the details are.
[[nodiscard]] PlanReport run_plan(const PlanRequest& request, util::Progress& progress);

} // namespace brix::plan
