#include <brix/recover/replan.hpp>

#include <brix/plan/validate.hpp>

#include <fmt/format.h>

namespace brix::recover {
namespace {

std::string degrees(const plan::Layout& l) {
  return fmt::format("tp={} pp={} cp={} ep={} etp={} dp={}", l.tp, l.pp, l.cp, l.ep, l.etp, l.dp);
}

/// Ranks spread evenly over whole nodes, as `brix launch --plan` requires.
bool places_evenly(int world, int gpus_per_node) {
  const int nodes = nodes_needed(plan::Layout{.dp = world}, gpus_per_node);
  return world % nodes == 0;
}

} // namespace

std::string to_string(ReplanDecision decision) {
  switch (decision) {
  case ReplanDecision::unchanged: return "unchanged";
  case ReplanDecision::shrink_dp: return "shrink-dp";
  case ReplanDecision::fresh_search: return "fresh-search";
  case ReplanDecision::impossible: return "impossible";
  }
  return "?";
}

bool Replan::layout_changed(const plan::PlanFile& old) const {
  const auto& a = old.layout;
  const auto& b = plan.layout;
  bool same_stages = old.stages.size() == plan.stages.size();
  for (std::size_t i = 0; same_stages && i < old.stages.size(); ++i) {
    same_stages = old.stages[i].first_layer == plan.stages[i].first_layer &&
                  old.stages[i].last_layer == plan.stages[i].last_layer;
  }
  return a.tp != b.tp || a.pp != b.pp || a.cp != b.cp || a.ep != b.ep || a.etp != b.etp ||
         a.vpp != b.vpp || !same_stages;
}

int nodes_needed(const plan::Layout& layout, int gpus_per_node) {
  return (layout.world() + gpus_per_node - 1) / gpus_per_node;
}

Replan replan(const plan::PlanFile& old, int gpus_per_node, int nodes_left, const LayoutCheck& check,
              const LayoutSearch& search) {
  Replan result;
  result.plan = old;
  result.old_nodes = nodes_needed(old.layout, gpus_per_node);
  result.nodes = result.old_nodes;
  if (nodes_left >= result.old_nodes) {
    result.why = fmt::format("{} node(s) left, the plan needs {}: plan unchanged", nodes_left,
                             result.old_nodes);
    return result;
  }
  const auto& layout = old.layout;
  const std::int64_t global = old.batch.global;
  const std::int64_t micro = old.batch.micro > 0 ? old.batch.micro : layout.micro_batch;
  const int model_parallel = layout.tp * layout.pp * layout.cp;
  for (int dp = layout.dp - 1; dp >= 1; --dp) {
    auto candidate = layout;
    candidate.dp = dp;
    const int world = candidate.world();
    const auto label = fmt::format("dp={} ({} GPUs)", dp, world);
    if (world > nodes_left * gpus_per_node) {
      continue; // too big: not worth listing every one
    }
    const auto split = plan::BatchSplit::of(global, micro, dp);
    if (!split) {
      result.tried.push_back(fmt::format("{}: global batch {} is not a multiple of micro {} × dp {}",
                                         label, global, micro, dp));
      continue;
    }
    if (plan::check_expert_groups(layout.tp, layout.cp, dp, layout.ep, layout.etp)) {
      result.tried.push_back(fmt::format("{}: tp·dp·cp = {} is not a multiple of ep·etp = {}", label,
                                         layout.tp * dp * layout.cp, layout.ep * layout.etp));
      continue;
    }
    if (!places_evenly(world, gpus_per_node)) {
      result.tried.push_back(fmt::format("{}: {} ranks do not spread evenly over nodes of {} GPUs",
                                         label, world, gpus_per_node));
      continue;
    }
    const int nodes = nodes_needed(candidate, gpus_per_node);
    const auto problems = check(candidate, nodes);
    if (!problems.empty()) {
      result.tried.push_back(fmt::format("{}: {}", label, problems.front()));
      continue;
    }
    result.decision = ReplanDecision::shrink_dp;
    result.plan.layout = candidate;
    result.plan.batch = *split;
    result.nodes = nodes;
    result.why = fmt::format(
        "{} node(s) left of {}: kept tp={} pp={} cp={} ep={} (every weight shard stays valid), "
        "dp {} -> {}, accumulation {} -> {} keeps the global batch {}",
        nodes_left, result.old_nodes, layout.tp, layout.pp, layout.cp, layout.ep, layout.dp, dp,
        old.batch.accumulation, result.plan.batch.accumulation, global);
    return result;
  }
  if (model_parallel > nodes_left * gpus_per_node) {
    result.tried.push_back(fmt::format("tp·pp·cp = {} GPUs alone exceed the {} GPUs left",
                                       model_parallel, nodes_left * gpus_per_node));
  }
  std::string why_not;
  if (nodes_left > 0) {
    if (const auto fresh = search(nodes_left, why_not)) {
      result.decision = ReplanDecision::fresh_search;
      result.plan.layout = *fresh;
      result.plan.stages.clear(); // the old stage split belongs to the old pp
      // The search only returns layouts whose batch splits.
      result.plan.batch = plan::BatchSplit::of(global, fresh->micro_batch, fresh->dp).value();
      result.nodes = nodes_needed(*fresh, gpus_per_node);
      result.why = fmt::format("{} node(s) left of {}: no smaller dp of {} fits, so a fresh search "
                               "chose {} (accumulation {}, global batch {} kept)",
                               nodes_left, result.old_nodes, degrees(layout), degrees(*fresh),
                               result.plan.batch.accumulation, global);
      return result;
    }
  } else {
    why_not = "no nodes left";
  }
  result.decision = ReplanDecision::impossible;
  result.why = fmt::format("{} node(s) left of {}: no layout runs the global batch {} on them ({})",
                           nodes_left, result.old_nodes, global, why_not);
  return result;
}

nlohmann::ordered_json to_json(const Replan& replan, const plan::PlanFile& old) {
  return {{"decision", to_string(replan.decision)},
          {"why", replan.why},
          {"old_nodes", replan.old_nodes},
          {"nodes", replan.nodes},
          {"old_layout", plan::layout_to_json(old.layout)},
          {"layout", plan::layout_to_json(replan.plan.layout)},
          {"old_batch", {{"global", old.batch.global}, {"micro", old.batch.micro}, {"accumulation", old.batch.accumulation}}},
          {"batch", {{"global", replan.plan.batch.global}, {"micro", replan.plan.batch.micro}, {"accumulation", replan.plan.batch.accumulation}}},
          {"layout_changed", replan.layout_changed(old)},
          {"tried", replan.tried}};
}

} // namespace brix::recover
