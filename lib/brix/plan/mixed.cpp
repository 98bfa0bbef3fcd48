#include <brix/plan/mixed.hpp>

#include <brix/plan/search_detail.hpp>

namespace brix::plan {

using namespace detail;

namespace {

/// What one node group contributes: its stages' device, per-layer costs and memory.
struct GroupModel {
  const cluster::NodeGroup* group = nullptr;
  int stages = 0;
  double dense_s = 0, moe_s = 0, embedding_s = 0, head_s = 0; ///< per micro-batch
  double dense_static = 0, moe_static = 0, dense_act = 0, moe_act = 0;
  double transient = 0; ///< one layer's recomputed working set (the widest)
  double fixed = 0;     ///< communication buffers (the CUDA context is taken off the capacity)
  double embedding_static = 0, head_static = 0;
};

double layer_seconds(const LayerCost& cost, Recompute recompute) {
  const double extra = recompute == Recompute::full ? cost.recompute_full_s + cost.tp_comm_s
                                                    : (recompute == Recompute::selective ? cost.recompute_selective_s : 0.0);
  return cost.forward_s + cost.backward_s + extra + 2.0 * cost.tp_comm_s + 2.0 * cost.ep_comm_s;
}

/// Static (model-state) and per-micro-batch activation bytes of a one-layer span, and the
/// transient working set of recomputing it.
void layer_memory(const model::ModelSpec& model, const cluster::GpuSpec& gpu, const Layout& layout,
                  const TrainingShape& shape, std::int64_t layer, double& static_bytes, double& activation,
                  double& transient) {
  StageSpan span;
  span.first_layer = static_cast<int>(layer);
  span.last_layer = static_cast<int>(layer);
  const auto memory = stage_memory(model, gpu, layout, shape, 0, span);
  static_bytes = memory.weights + memory.grads + memory.optimizer;
  activation = memory.activations_per_micro_batch;
  transient = std::max(transient, memory.activations - memory.in_flight * memory.activations_per_micro_batch);
}

/// Layers' budget on one GPU. stage_memory's total is (live)·(1 + reserve) + CUDA context, with
/// live = states + activations + transient + buffers: solved for the layers' share.
double layer_budget(double capacity, double fixed, double transient) {
  return (capacity - k_cuda_context_bytes) / (1.0 + k_allocator_reserve_fraction) - fixed - transient;
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

  // Fields fixed with --layout are honoured; the rest searched.
  const auto& fixed = options.fixed;
  auto allowed = [](const std::optional<int>& pinned, int value) { return !pinned || *pinned == value; };
  if ((fixed.schedule && *fixed.schedule != Schedule::one_f_one_b) || (fixed.vpp && *fixed.vpp != 1) ||
      (fixed.grad_compression && *fixed.grad_compression != GradCompression::none)) {
    return result; // the mixed planner runs 1F1B without compression
  }
  for (const int tp : tps) {
    if (model.heads % tp != 0 || !allowed(fixed.tp, tp)) {
      continue;
    }
    for (const int cp : {1, 2, 4}) {
      if (!allowed(fixed.cp, cp)) {
        continue;
      }
      for (int dp = 1; dp <= 64; dp *= 2) {
        if (!allowed(fixed.dp, dp)) {
          continue;
        }
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
            for (const int mbs : {1, 2, 4}) {
              if (batch % (static_cast<std::int64_t>(dp) * mbs) != 0 || !allowed(fixed.micro_batch, mbs)) {
                continue;
              }
              const std::int64_t micro_batches = batch / (static_cast<std::int64_t>(dp) * mbs);
              for (const auto recompute : recomputes) {
                if (fixed.recompute && *fixed.recompute != recompute) {
                  continue;
                }
                for (const int zero : {1, 3}) {
                  if (!allowed(fixed.zero, zero)) {
                    continue;
                  }
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
                  std::vector<GroupModel> groups;
                  for (const auto& group : cluster.groups) {
                    GroupModel g;
                    g.group = &group;
                    g.stages = group.gpus() / stage_size;
                    CostContext context;
                    context.model = &model;
                    context.device = device_model(group, options.precision == Precision::fp8, cluster.oversubscription);
                    context.software = options.software;
                    context.seq_len = options.shape.seq_len;
                    const auto placement = place_groups(layout, group.gpus_per_node);
                    g.dense_s = layer_seconds(layer_cost(context, layout, placement, false), recompute);
                    g.moe_s = model.moe ? layer_seconds(layer_cost(context, layout, placement, true), recompute) : g.dense_s;
                    g.embedding_s = layer_seconds(embedding_cost(context, layout, placement), recompute);
                    g.head_s = layer_seconds(head_cost(context, layout, placement), recompute);
                    layer_memory(model, group.gpu, layout, options.shape, 0, g.dense_static, g.dense_act, g.transient);
                    if (model.moe) {
                      layer_memory(model, group.gpu, layout, options.shape, model.layers - 1, g.moe_static, g.moe_act,
                                   g.transient);
                    } else {
                      g.moe_static = g.dense_static, g.moe_act = g.dense_act;
                    }
                    StageSpan none;
                    none.first_layer = 0;
                    none.last_layer = -1;
                    const auto empty = stage_memory(model, group.gpu, layout, options.shape, 0, none);
                    g.fixed = empty.comm_buffers;
                    StageSpan first = none;
                    first.embedding = true;
                    const auto with_embedding = stage_memory(model, group.gpu, layout, options.shape, 0, first);
                    g.embedding_static = with_embedding.weights + with_embedding.grads + with_embedding.optimizer;
                    StageSpan last = none;
                    last.head = true;
                    const auto with_head = stage_memory(model, group.gpu, layout, options.shape, pp - 1, last);
                    // The head's states, plus its logits (and the MTP module's activations) for the one
                    // micro-batch the last 1F1B stage holds.
                    g.head_static = with_head.weights + with_head.grads + with_head.optimizer + with_head.activations;
                    groups.push_back(g);
                  }
                  // Chain in the first group's seconds; other stages run at their speed ratio.
                  const auto& reference = groups.front();
                  std::vector<ChainItem> items;
                  for (std::int64_t layer = 0; layer < model.layers; ++layer) {
                    const bool moe = model.is_moe_layer(layer);
                    items.push_back({moe ? reference.moe_s : reference.dense_s, moe ? reference.moe_static : reference.dense_static,
                                     moe ? reference.moe_act : reference.dense_act});
                  }
                  items.front().time += reference.embedding_s;
                  items.front().static_bytes += reference.embedding_static;
                  items.back().time += reference.head_s;
                  items.back().static_bytes += reference.head_static;
                  std::vector<StageDevice> devices;
                  std::vector<const GroupModel*> owner;
                  for (const auto& g : groups) {
                    const double speed = (model.moe ? reference.moe_s / g.moe_s : reference.dense_s / g.dense_s);
                    for (int s = 0; s < g.stages; ++s) {
                      const int index = static_cast<int>(devices.size());
                      const double in_flight = static_cast<double>(std::min<std::int64_t>(micro_batches, pp - index));
                      devices.push_back({speed, layer_budget(g.group->gpu.memory_bytes, g.fixed, g.transient), in_flight});
                      owner.push_back(&g);
                    }
                  }
                  const auto split = partition_stages(items, devices);
                  if (!split) {
                    continue;
                  }
                  // The DP's additive memory model, checked stage by stage with the full one.
                  std::vector<double> stage_bytes;
                  for (std::size_t s = 0; s < devices.size(); ++s) {
                    StageSpan span;
                    span.first_layer = split->first[s];
                    span.last_layer = (s + 1 < devices.size() ? split->first[s + 1] : static_cast<int>(items.size())) - 1;
                    span.embedding = s == 0;
                    span.head = s + 1 == devices.size();
                    const auto memory = stage_memory(model, owner[s]->group->gpu, layout, options.shape, static_cast<int>(s), span);
                    if (!memory.fits()) {
                      break;
                    }
                    stage_bytes.push_back(memory.total);
                  }
                  if (stage_bytes.size() != devices.size()) {
                    continue;
                  }
                  ++result.fitting;
                  double sum = 0;
                  for (const double t : split->stage_s) {
                    sum += t;
                  }
                  // Data parallel and optimizer: the critical stage's states over its DP group.
                  std::size_t critical = 0;
                  for (std::size_t s = 0; s < split->stage_s.size(); ++s) {
                    critical = split->stage_s[s] > split->stage_s[critical] ? s : critical;
                  }
                  StageSpan span;
                  span.first_layer = split->first[critical];
                  span.last_layer = (critical + 1 < devices.size() ? split->first[critical + 1] : static_cast<int>(items.size())) - 1;
                  const auto work = stage_work(model, span, static_cast<int>(critical), pp);
                  CostContext context;
                  context.model = &model;
                  context.device = device_model(*owner[critical]->group, options.precision == Precision::fp8, cluster.oversubscription);
                  context.software = options.software;
                  context.seq_len = options.shape.seq_len;
                  const auto placement = place_groups(layout, owner[critical]->group->gpus_per_node);
                  const auto data_parallel = data_parallel_cost(
                      context, layout, placement, work.dense_params, work.expert_params, options.software.grad_reduce_bytes,
                      static_cast<double>(micro_batches), split->slowest_s, 2.0 / 3.0 * split->slowest_s);
                  const double step = (static_cast<double>(micro_batches) - 1.0) * split->slowest_s + sum +
                                      data_parallel.pipeline_extra_s + data_parallel.exposed_s + data_parallel.optimizer_s;
                  if (result.best && step >= result.best->step_s) {
                    continue;
                  }
                  MixedPlan plan;
                  plan.layout = layout;
                  plan.step_s = step;
                  plan.tokens_per_s = static_cast<double>(batch) * options.shape.seq_len / step;
                  plan.mfu = model_flops / step / peak_flops;
                  for (std::size_t s = 0; s < devices.size(); ++s) {
                    MixedStage stage;
                    stage.first_layer = split->first[s];
                    stage.last_layer = (s + 1 < devices.size() ? split->first[s + 1] : static_cast<int>(items.size())) - 1;
                    stage.node_group = owner[s]->group->name;
                    stage.time_s = split->stage_s[s];
                    stage.memory_bytes = stage_bytes[s];
                    plan.stages.push_back(stage);
                  }
                  const auto first = uniform_partition(static_cast<int>(items.size()), pp);
                  if (const auto uniform = evaluate_partition(items, devices, first)) {
                    double uniform_sum = 0;
                    for (const double t : uniform->stage_s) {
                      uniform_sum += t;
                    }
                    plan.uniform_step_s = (static_cast<double>(micro_batches) - 1.0) * uniform->slowest_s + uniform_sum +
                                          data_parallel.pipeline_extra_s + data_parallel.exposed_s + data_parallel.optimizer_s;
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
  return result;
}

} // namespace brix::plan
