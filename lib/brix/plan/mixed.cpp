#include <brix/plan/mixed.hpp>

#include <brix/plan/group_costs.hpp>
#include <brix/plan/search_detail.hpp>

#include <fmt/format.h>

namespace brix::plan {

using namespace detail;

namespace {

/// A stage split's step on a mixed cluster.
struct SplitCost {
  double step_s = 0;
  std::size_t critical = 0;          ///< the stage whose time, ZeRO traffic included, is longest
  DataParallelCost data_parallel;    ///< that stage's
  double transfer_s = 0;             ///< pipeline sends and receives per stage and micro-batch
  std::vector<double> data_parallel_s; ///< each stage's exposed data-parallel time per micro-batch
};

/// Every stage's data parallelism on its own group's GPUs and network (its states over its DP
/// group, its share of the adapters with its all-to-all): the ZeRO traffic a micro-batch exposes
/// lengthens that stage in the pipeline, as estimate_step charges it for the critical stage of a
/// homogeneous plan, and the gradient sync after the last backward and the optimizer step end
/// when the slowest stage's do. 1F1B over the lengthened stages: the slowest of them m − 1 times,
/// the others once (fill and drain).
SplitCost cost_split(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, const SearchOptions& options,
                     const Layout& layout, std::span<const GroupCosts* const> owner, const StagePartition& split,
                     std::int64_t micro_batches) {
  SplitCost cost;
  const auto stages = split.stage_s.size();
  const double m = static_cast<double>(micro_batches);
  std::vector<DataParallelCost> per_stage;
  double sum = 0, slowest = 0, tail = 0;
  for (std::size_t s = 0; s < stages; ++s) {
    StageSpan span;
    span.first_layer = split.first[s];
    span.last_layer = (s + 1 < stages ? split.first[s + 1] : static_cast<int>(model.layers)) - 1;
    const auto work = stage_work(model, span, static_cast<int>(s), layout.pp);
    const auto context = group_cost_context(model, cluster, *owner[s]->group, options);
    const auto placement = place_groups(layout, owner[s]->group->nvlink_reach());
    const double stage_s = split.stage_s[s];
    per_stage.push_back(data_parallel_cost(context, layout, placement, work.dense_params, work.expert_params,
                                           options.software.grad_reduce_bytes, m, stage_s, 2.0 / 3.0 * stage_s,
                                           work.outside_layer_params, work.moe_layers * owner[s]->moe_ep_network_s));
    const double exposed = per_stage.back().pipeline_extra_s / m;
    cost.data_parallel_s.push_back(exposed);
    sum += stage_s + exposed;
    if (stage_s + exposed > slowest) {
      slowest = stage_s + exposed;
      cost.critical = s;
    }
    tail = std::max(tail, per_stage.back().exposed_s + per_stage.back().optimizer_s);
  }
  cost.data_parallel = per_stage[cost.critical];
  const auto& group = *owner[cost.critical]->group;
  const auto context = group_cost_context(model, cluster, group, options);
  const auto placement = place_groups(layout, group.nvlink_reach());
  // Each stage sends and receives one activation per micro-batch and pass.
  cost.transfer_s = 2.0 * pipeline_transfer_seconds(context, layout, placement);
  const double embedding_sync =
      tied_embedding_sync_seconds(context, layout, placement, options.software.grad_reduce_bytes);
  cost.step_s = (m - 1.0) * (slowest + cost.transfer_s) + sum + static_cast<double>(stages) * cost.transfer_s + tail +
                embedding_sync;
  return cost;
}

} // namespace

MixedResult plan_mixed(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, const SearchOptions& options) {
  MixedResult result;
  // The largest homogeneous subset, planned by the regular search, to compare against.
  const cluster::NodeGroup* largest = &cluster.groups.front();
  for (const auto& group : cluster.groups) {
    if (group.gpus() > largest->gpus()) {
      largest = &group;
    }
  }
  cluster::ClusterSpec subset = cluster;
  subset.groups = {*largest};
  result.homogeneous_group = largest->name;
  result.homogeneous_gpus = largest->gpus();
  const auto homogeneous = search_layouts(model, subset, options);
  if (!homogeneous.plans.empty()) {
    result.homogeneous = homogeneous.plans.front();
  }

  int domain = 1 << 30;
  for (const auto& group : cluster.groups) {
    domain = std::min(domain, group.nvlink_domain > 0 ? group.nvlink_domain : group.gpus_per_node);
  }
  const auto tps = powers_of_two_up_to(std::min(domain, 8));
  const std::vector<Recompute> recomputes{Recompute::none, Recompute::selective, Recompute::full};
  std::vector<int> eps{1};
  if (model.moe) {
    eps = divisors(static_cast<int>(model.moe->routed_experts), static_cast<int>(model.moe->routed_experts));
  }
  const std::int64_t batch = options.shape.global_batch;
  double peak_flops = 0;
  for (const auto& group : cluster.groups) {
    peak_flops += group.gpus() * group.gpu.bf16_flops;
  }
  const double model_flops = model::flops_per_token(model, options.shape.seq_len).training *
                             static_cast<double>(batch) * static_cast<double>(options.shape.seq_len);

  // Fields fixed with --layout replace their candidate lists (k_mixed_* in mixed.hpp); the
  // schedule, vpp and gradient compression have no other value here, so another is refused.
  const auto& fixed = options.fixed;
  auto allowed = [](const std::optional<int>& pinned, int value) { return !pinned || *pinned == value; };
  auto candidates = [](const std::optional<int>& pinned, std::vector<int> searched) {
    return pinned ? std::vector<int>{*pinned} : searched;
  };
  if (fixed.schedule && *fixed.schedule != Schedule::one_f_one_b) {
    result.not_searched = fmt::format("schedule={} (it runs 1F1B only)", to_string(*fixed.schedule));
  } else if (fixed.vpp && *fixed.vpp != 1) {
    result.not_searched = fmt::format("vpp={} (it runs one stage per rank group)", *fixed.vpp);
  } else if (fixed.grad_compression && *fixed.grad_compression != GradCompression::none) {
    result.not_searched = fmt::format("grad_compression={} (it reduces gradients uncompressed)",
                                      to_string(*fixed.grad_compression));
  }
  if (fixed.tp && *fixed.tp > domain) {
    result.not_searched = fmt::format("tp={} (a TP group stays inside the smallest NVLink domain, {} GPUs)", *fixed.tp, domain);
  }
  if (!result.not_searched.empty()) {
    return result;
  }
  std::vector<int> dps;
  for (int dp = 1; dp <= k_mixed_max_dp; dp *= 2) {
    dps.push_back(dp);
  }
  for (const int tp : candidates(fixed.tp, tps)) {
    if (check_tp_heads(model, tp) || check_sequence_parallel(model, tp, fixed.sp.value_or(tp > 1))) {
      continue;
    }
    for (const int cp : candidates(fixed.cp, {k_mixed_cp.begin(), k_mixed_cp.end()})) {
      for (const int dp : candidates(fixed.dp, dps)) {
        const int stage_size = tp * cp * dp;
        int pp = 0;
        bool tiles = true;
        for (const auto& group : cluster.groups) {
          tiles = tiles && group.gpus() % stage_size == 0 && (stage_size <= group.gpus_per_node || stage_size % group.gpus_per_node == 0);
          pp += group.gpus() / stage_size;
        }
        if (!tiles || pp < 2 || pp > model.layers || !allowed(fixed.pp, pp)) {
          continue;
        }
        for (const int ep : eps) {
          for (const int etp : model.moe ? powers_of_two_up_to(tp) : std::vector<int>{1}) {
            if (stage_size % (ep * etp) != 0 || !allowed(fixed.ep, ep) || !allowed(fixed.etp, etp)) {
              continue;
            }
            for (const int mbs : candidates(fixed.micro_batch, {k_mixed_micro_batch.begin(), k_mixed_micro_batch.end()})) {
              const auto split = BatchSplit::of(batch, mbs, dp);
              if (!split) {
                continue;
              }
              const std::int64_t micro_batches = split->accumulation;
              for (const auto recompute : recomputes) {
                if (fixed.recompute && *fixed.recompute != recompute) {
                  continue;
                }
                for (const int zero : candidates(fixed.zero, {k_mixed_zero.begin(), k_mixed_zero.end()})) {
                  ++result.evaluated;
                  Layout layout;
                  layout.tp = tp, layout.cp = cp, layout.dp = dp, layout.pp = pp, layout.ep = ep, layout.etp = etp;
                  layout.sp = fixed.sp.value_or(tp > 1);
                  layout.micro_batch = mbs;
                  layout.recompute = recompute;
                  layout.zero = zero;
                  layout.precision = options.precision;
                  layout.flash_attention = options.software.flash_attention;
                  // Per group: costs on its own GPUs and links.
                  std::vector<GroupCosts> groups;
                  for (const auto& group : cluster.groups) {
                    groups.push_back(group_costs(model, cluster, group, layout, options, pp));
                    groups.back().stages = group.gpus() / stage_size;
                  }
                  // Chain in the first group's seconds; other stages run at their speed ratio.
                  const auto& reference = groups.front();
                  const auto items = layer_chain(model, reference);
                  std::vector<StageDevice> devices;
                  std::vector<const GroupCosts*> owner;
                  for (const auto& g : groups) {
                    for (int s = 0; s < g.stages; ++s) {
                      const int index = static_cast<int>(devices.size());
                      const double in_flight = static_cast<double>(std::min<std::int64_t>(micro_batches, pp - index));
                      devices.push_back(stage_device(model, g, reference, in_flight));
                      owner.push_back(&g);
                    }
                  }
                  auto split = partition_stages(items, devices);
                  if (!split) {
                    continue;
                  }
                  retime_partition(model, owner, *split);
                  // The DP's additive memory model, checked stage by stage with the full one.
                  std::vector<double> stage_bytes;
                  for (std::size_t s = 0; s < devices.size(); ++s) {
                    StageSpan span;
                    span.first_layer = split->first[s];
                    span.last_layer = (s + 1 < devices.size() ? split->first[s + 1] : static_cast<int>(items.size())) - 1;
                    span.embedding = s == 0;
                    span.head = s + 1 == devices.size();
                    const auto memory = stage_memory(model, owner[s]->group->gpu, layout, options.shape, static_cast<int>(s), span, options.software);
                    if (!memory.fits()) {
                      break;
                    }
                    stage_bytes.push_back(memory.total);
                  }
                  if (stage_bytes.size() != devices.size()) {
                    continue;
                  }
                  ++result.fitting;
                  const auto cost = cost_split(model, cluster, options, layout, owner, *split, micro_batches);
                  const double step = cost.step_s;
                  if (result.best && step >= result.best->step_s) {
                    continue;
                  }
                  MixedPlan plan;
                  plan.layout = layout;
                  plan.step_s = step;
                  plan.micro_batches = micro_batches;
                  plan.transfer_s = cost.transfer_s;
                  plan.critical_stage = static_cast<int>(cost.critical);
                  plan.data_parallel = cost.data_parallel;
                  plan.tokens_per_s = static_cast<double>(batch) * options.shape.seq_len / step;
                  plan.mfu = model_flops / step / peak_flops;
                  for (std::size_t s = 0; s < devices.size(); ++s) {
                    MixedStage stage;
                    stage.first_layer = split->first[s];
                    stage.last_layer = (s + 1 < devices.size() ? split->first[s + 1] : static_cast<int>(items.size())) - 1;
                    stage.node_group = owner[s]->group->name;
                    stage.time_s = split->stage_s[s];
                    stage.data_parallel_s = cost.data_parallel_s[s];
                    stage.memory_bytes = stage_bytes[s];
                    plan.stages.push_back(stage);
                  }
                  const auto first = uniform_partition(static_cast<int>(items.size()), pp);
                  if (auto uniform = evaluate_partition(items, devices, first)) {
                    retime_partition(model, owner, *uniform);
                    plan.uniform_step_s = cost_split(model, cluster, options, layout, owner, *uniform, micro_batches).step_s;
                  }
                  result.best = std::move(plan);
                }
              }
            }
          }
        }
      }
    }
  }
  if (result.best) {
    result.best->estimate = mixed_estimate(model, cluster, options, *result.best);
  }
  return result;
}

std::string mixed_search_coverage() {
  return fmt::format("1F1B, vpp 1, no gradient compression; TP powers of two within the smallest NVLink domain (≤ 8), "
                     "CP {}, DP powers of two ≤ {}, micro-batch {}, EP dividing the experts, ETP ≤ TP, recompute "
                     "none/selective/full, ZeRO {}; TP, CP, DP, micro-batch and ZeRO fixed with --layout are "
                     "evaluated as given",
                     fmt::join(k_mixed_cp, "/"), k_mixed_max_dp, fmt::join(k_mixed_micro_batch, "/"),
                     fmt::join(k_mixed_zero, "/"));
}

} // namespace brix::plan
