#include <brix/plan/rebalance.hpp>

#include <brix/plan/group_costs.hpp>
#include <brix/plan/memory.hpp>
#include <brix/util/error.hpp>

#include <fmt/format.h>

namespace brix::plan {

namespace {

const cluster::NodeGroup& stage_group(const cluster::ClusterSpec& cluster, const PlanFile& plan, const std::string& name) {
  if (name.empty()) {
    if (!cluster.homogeneous()) {
      throw InputError(fmt::format("{}: the stages name no node_group, but cluster '{}' has several GPU models "
                                   "(expected node_group on every stage)",
                                   plan.path, cluster.name));
    }
    return cluster.groups.front();
  }
  for (const auto& group : cluster.groups) {
    if (group.name == name) {
      return group;
    }
  }
  throw InputError(fmt::format("{}: node group '{}' is not in cluster '{}'", plan.path, name, cluster.name));
}

std::vector<RebalanceStage> describe(const model::ModelSpec& model, const PlanFile& plan, const SearchOptions& options,
                                     const std::vector<const cluster::NodeGroup*>& groups, const std::vector<int>& first,
                                     const std::vector<double>& times, const std::vector<double>& predicted) {
  std::vector<RebalanceStage> out;
  const int pp = static_cast<int>(first.size());
  for (int s = 0; s < pp; ++s) {
    RebalanceStage stage;
    stage.first_layer = first[static_cast<std::size_t>(s)];
    stage.last_layer = (s + 1 < pp ? first[static_cast<std::size_t>(s) + 1] : static_cast<int>(model.layers)) - 1;
    stage.node_group = groups[static_cast<std::size_t>(s)]->name;
    stage.measured_s = times[static_cast<std::size_t>(s)];
    stage.predicted_s = predicted[static_cast<std::size_t>(s)];
    StageSpan span;
    span.first_layer = stage.first_layer;
    span.last_layer = stage.last_layer;
    span.embedding = s == 0;
    span.head = s + 1 == pp;
    stage.memory_bytes = stage_memory(model, groups[static_cast<std::size_t>(s)]->gpu, plan.layout, options.shape, s, span, options.software).total;
    out.push_back(stage);
  }
  return out;
}

} // namespace

Rebalance rebalance_stages(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, const PlanFile& plan,
                           const SearchOptions& options, const std::vector<double>& measured_s) {
  const auto& layout = plan.layout;
  if (layout.vpp > 1) {
    throw InputError(fmt::format("{}: vpp {}: rebalancing measured stages supports one model chunk per pipeline rank "
                                 "(expected vpp 1)",
                                 plan.path, layout.vpp));
  }
  const int pp = layout.pp;
  if (static_cast<int>(measured_s.size()) != pp) {
    throw InputError(fmt::format("{}: {} measured stage(s) for a plan with pp {} (expected one time per stage)", plan.path,
                                 measured_s.size(), pp));
  }
  const auto stages = resolve_stages(plan, model.layers);
  std::vector<const cluster::NodeGroup*> groups;
  for (const auto& stage : stages) {
    groups.push_back(&stage_group(cluster, plan, stage.node_group));
  }
  // Costs per group on the plan's layout; the chain in the first stage's group's seconds.
  std::vector<GroupCosts> costs;
  for (const auto& group : cluster.groups) {
    costs.push_back(group_costs(model, cluster, group, layout, options, pp));
  }
  auto costs_of = [&](const cluster::NodeGroup* group) -> const GroupCosts& {
    for (const auto& c : costs) {
      if (c.group->name == group->name) {
        return c;
      }
    }
    return costs.front();
  };
  const GroupCosts& reference = costs_of(groups.front());
  const auto modelled_items = layer_chain(model, reference);
  auto items = modelled_items;
  const auto micro_batches = micro_batches_per_step(layout, options.shape);
  std::vector<StageDevice> devices;
  for (int s = 0; s < pp; ++s) {
    const double in_flight = static_cast<double>(std::min<std::int64_t>(micro_batches, pp - s));
    devices.push_back(stage_device(model, costs_of(groups[static_cast<std::size_t>(s)]), reference, in_flight));
  }
  // Predicted per step on each stage's own GPUs; each layer's time scaled by its stage's
  // measured/predicted ratio.
  std::vector<int> first;
  std::vector<double> predicted;
  for (int s = 0; s < pp; ++s) {
    const auto& stage = stages[static_cast<std::size_t>(s)];
    first.push_back(static_cast<int>(stage.first_layer));
    double modelled = 0;
    for (auto layer = stage.first_layer; layer <= stage.last_layer; ++layer) {
      modelled += items[static_cast<std::size_t>(layer)].time / devices[static_cast<std::size_t>(s)].speed;
    }
    predicted.push_back(modelled * static_cast<double>(micro_batches));
    const double factor = measured_s[static_cast<std::size_t>(s)] / (modelled * static_cast<double>(micro_batches));
    for (auto layer = stage.first_layer; layer <= stage.last_layer; ++layer) {
      items[static_cast<std::size_t>(layer)].time *= factor;
    }
  }
  Rebalance result;
  result.before = describe(model, plan, options, groups, first, measured_s, predicted);
  for (const double t : measured_s) {
    result.before_slowest_s = std::max(result.before_slowest_s, t);
  }
  result.after = result.before;
  result.after_slowest_s = result.before_slowest_s;
  const auto split = partition_stages(items, devices);
  // Only a strictly faster split is worth moving layers for.
  if (!split || split->first == first ||
      split->slowest_s * static_cast<double>(micro_batches) >= result.before_slowest_s * (1.0 - 1e-9)) {
    return result;
  }
  std::vector<double> modelled_after;
  for (int s = 0; s < pp; ++s) {
    const int begin = split->first[static_cast<std::size_t>(s)];
    const int end = s + 1 < pp ? split->first[static_cast<std::size_t>(s) + 1] : static_cast<int>(model.layers);
    double raw = 0;
    for (int layer = begin; layer < end; ++layer) {
      raw += modelled_items[static_cast<std::size_t>(layer)].time;
    }
    modelled_after.push_back(raw / devices[static_cast<std::size_t>(s)].speed * static_cast<double>(micro_batches));
  }
  // The scaled chain is in measured seconds per micro-batch.
  std::vector<double> after_s;
  for (const double t : split->stage_s) {
    after_s.push_back(t * static_cast<double>(micro_batches));
  }
  auto after = describe(model, plan, options, groups, split->first, after_s, modelled_after);
  for (std::size_t s = 0; s < after.size(); ++s) {
    StageSpan span;
    span.first_layer = after[s].first_layer;
    span.last_layer = after[s].last_layer;
    span.embedding = s == 0;
    span.head = s + 1 == after.size();
    if (!stage_memory(model, groups[s]->gpu, layout, options.shape, static_cast<int>(s), span, options.software).fits()) {
      return result; // the DP's additive memory model was optimistic here: keep the running split
    }
  }
  result.after = std::move(after);
  result.after_slowest_s = split->slowest_s * static_cast<double>(micro_batches);
  return result;
}

PlanFile rebalanced_plan(const PlanFile& plan, const Rebalance& rebalance) {
  PlanFile out = plan;
  out.stages.clear();
  for (const auto& stage : rebalance.after) {
    out.stages.push_back({stage.first_layer, stage.last_layer, stage.node_group});
  }
  out.path.clear();
  return out;
}

} // namespace brix::plan
