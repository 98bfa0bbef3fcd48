#include <brix/recover/planner.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/plan/search.hpp>
#include <brix/plan/plan_inputs.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace brix::recover {
namespace {

plan::SearchOptions search_options(const plan::PlanFile& plan) {
  plan::SearchOptions options;
  options.shape.global_batch = plan.batch.global;
  options.shape.seq_len = plan.seq_len;
  options.precision = plan.layout.precision;
  options.top_k = 1;
  return options;
}

} // namespace

int PlanContext::gpus_per_node() const {
  if (!cluster.homogeneous()) {
    throw InputError(fmt::format("{}: recover re-plans homogeneous clusters only (every node "
                                 "group with the same GPU and GPUs per node)",
                                 cluster.source));
  }
  return cluster.groups.front().gpus_per_node;
}

PlanContext load_plan_context(const std::string& plan_path) {
  PlanContext context;
  context.plan = plan::load_plan_file(plan_path);
  context.model = plan::load_plan_model(context.plan);
  context.cluster = cluster::load_cluster(
      plan::resolve_plan_source(context.plan, context.plan.cluster, "cluster"));
  return context;
}

LayoutCheck planner_check(const PlanContext& context) {
  return [&context](const plan::Layout& layout, int nodes) {
    const auto cluster = cluster::first_nodes(context.cluster, nodes);
    return plan::explain_layout(context.model, cluster, search_options(context.plan), layout).problems;
  };
}

LayoutSearch planner_search(const PlanContext& context) {
  return [&context](int nodes, std::string& why_not) -> std::optional<plan::Layout> {
    const auto cluster = cluster::first_nodes(context.cluster, nodes);
    const auto result = plan::search_layouts(context.model, cluster, search_options(context.plan));
    if (result.plans.empty()) {
      why_not = result.rejected.empty()
                    ? fmt::format("no layout of {} GPUs", cluster.total_gpus())
                    : fmt::format("{} of {} layouts: {}", result.rejected.front().count,
                                  result.evaluated, result.rejected.front().reason);
      return std::nullopt;
    }
    return result.plans.front().layout;
  };
}

} // namespace brix::recover
