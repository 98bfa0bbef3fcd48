// `brix plan --measured`: read the plan and the measured stage times, check they match, rebalance.
#include <brix/plan/rebalance_run.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/plan/measured.hpp>
#include <brix/plan/plan_inputs.hpp>
#include <brix/util/error.hpp>

#include <fmt/format.h>

namespace brix::plan {

RebalanceReport run_rebalance(const RebalanceRequest& request) {
  if (!request.emit.empty() && request.emit != "yaml") {
    throw InputError(fmt::format("--emit {} with --measured (expected yaml: the rebalanced plan file)", request.emit));
  }
  RebalanceReport report;
  report.plan_path = request.plan;
  report.measured_path = request.measured;
  report.plan = load_plan_file(request.plan);
  const auto& plan = report.plan;
  const auto measured = read_measured_stages(request.measured);
  report.job = measured.job;
  const auto model = plan::load_plan_model(plan);
  const auto cluster = cluster::load_cluster(plan::resolve_plan_source(plan, plan.cluster, "cluster"));
  report.model = model.name;
  report.cluster = cluster.name;
  const int pp = plan.layout.pp;
  std::vector<double> times(static_cast<std::size_t>(pp), 0.0);
  std::vector<bool> seen(static_cast<std::size_t>(pp), false);
  for (const auto& stage : measured.stages) {
    if (stage.stage >= pp) {
      throw InputError(fmt::format("{}: stage {} measured, but {} has pp {} (expected stages 0–{})", request.measured,
                                   stage.stage, request.plan, pp, pp - 1));
    }
    times[static_cast<std::size_t>(stage.stage)] = stage.compute_seconds;
    seen[static_cast<std::size_t>(stage.stage)] = true;
  }
  for (int s = 0; s < pp; ++s) {
    if (!seen[static_cast<std::size_t>(s)]) {
      throw InputError(fmt::format("{}: no time for stage {} (expected every stage 0–{} of {}: did all ranks report "
                                   "stage= through BRIX_PP_RANK?)",
                                   request.measured, s, pp - 1, request.plan));
    }
  }
  SearchOptions options;
  options.shape = {plan.batch.global, plan.seq_len};
  options.precision = plan.layout.precision;
  options.software = software_by_name(request.software);
  options.software.flash_attention = plan.layout.flash_attention;
  report.rebalance = rebalance_stages(model, cluster, plan, options, times);
  return report;
}

} // namespace brix::plan
