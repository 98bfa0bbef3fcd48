// The orchestration of `brix plan`: request → model, cluster, search options → search, details,
// explanation, mixed plan → PlanReport. No output: the report renders itself.
#include <brix/plan/plan_run.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/emit_targets.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/request_check.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace brix::plan {

namespace {

/// The request's search options on this model and cluster.
SearchOptions search_options(const PlanRequest& request, const model::ModelSpec& model, const cluster::ClusterSpec& cluster) {
  SearchOptions options;
  options.shape.seq_len = request.seq_len > 0 ? request.seq_len : model.default_seq_len;
  options.shape.global_batch =
      request.global_batch > 0 ? request.global_batch : propose_global_batch(options.shape.seq_len, cluster.total_gpus());
  options.precision = parse_precision(request.precision, "--precision");
  options.software = software_by_name(request.software);
  if (!request.layout.empty()) {
    options.fixed = parse_layout_query(request.layout);
    if (options.fixed.precision) {
      options.precision = *options.fixed.precision;
    }
    if (options.fixed.flash_attention) {
      options.software.flash_attention = *options.fixed.flash_attention;
    }
  }
  options.top_k = std::max(1, request.top);
  options.threads = std::max(1, request.threads);
  if (options.precision == Precision::fp8) {
    for (const auto& group : cluster.groups) {
      if (group.gpu.fp8_flops <= 0) {
        throw InputError(fmt::format("--precision fp8: node group '{}' has {} GPUs without FP8 tensor cores (expected bf16 "
                                     "there)", group.name, group.gpu.display));
      }
    }
  }
  return options;
}

/// Why no layout of a --layout query runs: its closest completion and that completion's problems
/// (or, when the completion runs on its own, what stopped the search).
LayoutExplanation explain_query(const PlanReport& report) {
  auto completion = closest_completion(report.model, report.cluster, report.options, report.options.fixed);
  auto verdict = explain_layout(report.model, report.cluster, report.options, completion.layout);
  if (verdict.problems.empty()) {
    // That completion runs on its own, yet the search found none: say what stopped it.
    const auto& rejected = report.search.rejected;
    for (std::size_t i = 0; i < std::min<std::size_t>(3, rejected.size()); ++i) {
      verdict.problems.push_back(
          fmt::format("{} ({} layouts with these fields)", rejected[i].reason, util::with_thousands(rejected[i].count)));
    }
    if (verdict.problems.empty()) {
      verdict.problems.emplace_back("no layout with these fields exists on this cluster");
    }
  }
  return {std::move(completion), std::move(verdict)};
}

} // namespace

std::int64_t propose_global_batch(std::int64_t seq_len, int gpus) {
  // DP = GPUs / (TP·CP·PP) with TP and CP powers of two: the odd part of every DP size divides
  // the odd part of the GPU count, so odd·2^k sequences divide evenly for every DP size up to
  // that power of two. k puts the batch nearest the token target (in ratio).
  const double target = 4.0 * 1024 * 1024 / static_cast<double>(seq_len);
  std::int64_t batch = std::max(1, gpus);
  while (batch % 2 == 0) {
    batch /= 2;
  }
  while (static_cast<double>(batch) < target / std::sqrt(2.0)) {
    batch *= 2;
  }
  while (batch * 8 < gpus) {
    batch *= 2;
  }
  return batch;
}

PlanReport run_plan(const PlanRequest& request, util::Progress& progress) {
  check_plan_request(request);
  if (!request.emit.empty()) {
    if (request.format != util::Format::text) {
      throw InputError(fmt::format("--format: not with --emit (--emit chooses the output: {})", emit_target_descriptions()));
    }
    (void)find_emit_target(request.emit);
  }
  PlanReport report;
  report.model = model::load_model(request.model);
  report.cluster = cluster::select_cluster(request.cluster, k_default_cluster);
  const auto& model = report.model;
  const auto& cluster = report.cluster;
  auto& options = report.options;
  options = search_options(request, model, cluster);
  report.price = request.price;
  report.global_batch_proposed = request.global_batch <= 0;
  int nodes = 0;
  for (const auto& group : cluster.groups) {
    nodes += group.nodes;
  }
  report.optimizer = optimizer_advice({options.shape.global_batch, options.shape.seq_len, nodes, request.base_lr,
                                       request.base_batch, request.lamb_betas});

  options.balance_stages = true; // rank on the split the plan runs with
  options.progress = [&progress](double fraction) { progress.update(fraction, "searching"); };
  report.search = search_layouts(model, cluster, options);
  auto& plans = report.search.plans;
  for (std::size_t i = 0; i < plans.size(); ++i) {
    report.details.push_back(refine_plan(model, cluster, options, request.checkpoint, plans[i]));
    progress.update(static_cast<double>(i + 1) / static_cast<double>(plans.size()), "details");
  }
  if (!request.layout.empty() && plans.empty()) {
    report.explanation = explain_query(report);
  }
  if (!cluster.homogeneous()) {
    report.mixed = plan_mixed(model, cluster, options);
    if (report.mixed->best) {
      report.mixed_details = mixed_details(model, cluster, options, request.checkpoint, *report.mixed->best);
    }
  }
  options.progress = nullptr; // `progress` may not outlive this call; the report may
  return report;
}

} // namespace brix::plan
