// The orchestration of `brix plan`: request → model, cluster, search options → search, details,
// explanation, mixed plan → PlanReport. No output: the report renders itself.
#include <brix/plan/plan_run.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/emit.hpp>
#include <brix/plan/emit_targets.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/request_check.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <set>

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
    apply_layout_software(options);
  }
  options.software = software_on(options.software, cluster);
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
  // A layout for part of a homogeneous cluster: say how to plan it there.
  const auto& cluster = report.cluster;
  const int world = completion.layout.world();
  const int per_node = cluster.groups.front().gpus_per_node;
  if (cluster.homogeneous() && world < cluster.total_gpus() && world % per_node == 0) {
    verdict.problems.push_back(fmt::format("its {} ranks fill {} of the cluster's {} nodes: --nodes {} plans the job on "
                                           "the cluster's first {} nodes",
                                           world, world / per_node, cluster.total_gpus() / per_node, world / per_node,
                                           world / per_node));
  }
  return {std::move(completion), std::move(verdict)};
}

/// The global batches nearest the one searched (at most one below and one above, within a factor
/// of 2) at which some layout fits: multiples of the DP × micro-batch of the layouts the batch
/// alone rejected, each confirmed by a search of its own, nearest first.
std::vector<std::int64_t> nearest_fitting_batches(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                                                  const SearchOptions& searched, const SearchResult& result) {
  constexpr int k_max_searches = 8;
  const std::int64_t batch = searched.shape.global_batch;
  std::set<std::int64_t> candidates;
  for (const auto unit : result.batch_units) {
    const std::int64_t below = batch / unit * unit;
    for (const std::int64_t candidate : {below, below + unit}) {
      if (candidate > 0 && candidate != batch && candidate * 2 >= batch && candidate <= batch * 2) {
        candidates.insert(candidate);
      }
    }
  }
  std::vector<std::int64_t> order(candidates.begin(), candidates.end());
  std::stable_sort(order.begin(), order.end(),
                   [batch](std::int64_t a, std::int64_t b) { return std::llabs(a - batch) < std::llabs(b - batch); });
  SearchOptions options = searched;
  options.top_k = 1;
  options.balance_stages = false; // whether one fits, not which is best
  options.progress = nullptr;
  std::optional<std::int64_t> below, above;
  int searches = 0;
  for (const auto candidate : order) {
    if ((candidate < batch ? below : above) || searches == k_max_searches) {
      continue;
    }
    options.shape.global_batch = candidate;
    ++searches;
    if (!search_layouts(model, cluster, options).plans.empty()) {
      (candidate < batch ? below : above) = candidate;
    }
  }
  std::vector<std::int64_t> fitting;
  for (const auto& found : {below, above}) {
    if (found) {
      fitting.push_back(*found);
    }
  }
  return fitting;
}

/// The best plan Megatron-LM can run (1F1B or interleaved, gradients uncompressed) within what
/// --layout fixes; nullopt when none fits.
std::optional<MegatronPlan> best_megatron_plan(const PlanReport& report, const CheckpointOptions& checkpoint) {
  const auto& fixed = report.options.fixed;
  if (fixed.grad_compression && *fixed.grad_compression != GradCompression::none) {
    return std::nullopt; // asked for by name: not replaced
  }
  std::optional<PlanEstimate> best;
  SearchOptions best_options;
  for (const auto schedule : {Schedule::one_f_one_b, Schedule::interleaved}) {
    if (fixed.schedule && *fixed.schedule != schedule) {
      continue;
    }
    SearchOptions options = report.options;
    options.fixed.schedule = schedule;
    options.fixed.grad_compression = GradCompression::none;
    options.top_k = 1;
    options.progress = nullptr;
    auto result = search_layouts(report.model, report.cluster, options);
    if (!result.plans.empty() && (!best || result.plans.front().step.step_s < best->step.step_s)) {
      best = std::move(result.plans.front());
      best_options = options;
    }
  }
  if (!best) {
    return std::nullopt;
  }
  auto details = refine_plan(report.model, report.cluster, best_options, checkpoint, *best);
  return MegatronPlan{std::move(*best), std::move(details)};
}

/// Why no layout of a search without --layout fits, and at which batches one would.
NoFit explain_no_fit(const PlanReport& report) {
  const auto& search = report.search;
  NoFit no_fit;
  const auto batch = report.options.shape.global_batch;
  std::int64_t batch_rejected = 0;
  for (const auto& group : search.rejected) {
    batch_rejected += group.kind == ProblemKind::batch ? group.count : 0;
  }
  if (batch_rejected > 0) {
    std::vector<std::string> units;
    for (const auto unit : search.batch_units) {
      if (units.size() == 6) {
        units.emplace_back("…");
        break;
      }
      units.push_back(util::with_thousands(unit));
    }
    no_fit.why = fmt::format("the global batch {} is not a multiple of DP × micro-batch ({}) in {} of the {} layouts; "
                             "the others break the rules listed above",
                             util::with_thousands(batch), fmt::join(units, ", "), util::with_thousands(batch_rejected),
                             util::with_thousands(search.evaluated));
  } else if (!search.rejected.empty()) {
    no_fit.why = fmt::format("none of the {} layouts fits; the most common reason: {} ({} layouts)",
                             util::with_thousands(search.evaluated), search.rejected.front().reason,
                             util::with_thousands(search.rejected.front().count));
  } else {
    no_fit.why = fmt::format("no layout of {} GPUs exists for this model", util::with_thousands(search.gpus));
  }
  if (!search.batch_units.empty()) {
    no_fit.fitting_batches = nearest_fitting_batches(report.model, report.cluster, report.options, search);
  }
  return no_fit;
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
  if (plans.empty() && !report.explanation && !(report.mixed && report.mixed->best)) {
    report.no_fit = explain_no_fit(report);
  }
  if (!request.emit.empty() && find_emit_target(request.emit).megatron && !plans.empty() &&
      !megatron_unsupported(plans.front().layout).empty()) {
    report.megatron = best_megatron_plan(report, request.checkpoint);
  }
  options.progress = nullptr; // `progress` may not outlive this call; the report may
  return report;
}

} // namespace brix::plan
