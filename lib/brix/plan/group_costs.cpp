#include <brix/plan/group_costs.hpp>

#include <brix/plan/search_detail.hpp>

#include <algorithm>

namespace brix::plan {

namespace {

/// Static (model-state) and per-micro-batch activation bytes of a one-layer span, and the
/// transient working set of recomputing it.
void layer_memory(const model::ModelSpec& model, const cluster::GpuSpec& gpu, const Layout& layout,
                  const TrainingShape& shape, const SoftwareProfile& software, std::int64_t layer,
                  double& static_bytes, double& activation, double& transient) {
  StageSpan span;
  span.first_layer = static_cast<int>(layer);
  span.last_layer = static_cast<int>(layer);
  const auto memory = stage_memory(model, gpu, layout, shape, 0, span, software);
  static_bytes = memory.weights + memory.grads + memory.optimizer;
  activation = memory.activations_per_micro_batch;
  transient = std::max(transient, memory.activations - memory.in_flight * memory.activations_per_micro_batch);
}

} // namespace

CostContext group_cost_context(const model::ModelSpec& model, const cluster::ClusterSpec& cluster,
                               const cluster::NodeGroup& group, const SearchOptions& options) {
  CostContext context;
  context.model = &model;
  context.device = device_model(group, options.precision == Precision::fp8, cluster.network, cluster.oversubscription);
  // Whatever built the options: no node-level dispatch on GPUs without its kernels.
  context.software = software_on(options.software, cluster);
  context.seq_len = options.shape.seq_len;
  context.local_batch = options.shape.local_batch;
  return context;
}

GroupCosts group_costs(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, const cluster::NodeGroup& group,
                       const Layout& layout, const SearchOptions& options, int pp) {
  GroupCosts g;
  g.group = &group;
  const auto context = group_cost_context(model, cluster, group, options);
  const auto placement = place_groups(layout, group.nvlink_reach());
  const auto recompute = layout.recompute;
  g.dense_s = layer_chain_seconds(layer_cost(context, layout, placement, false), recompute);
  if (model.moe) {
    const auto moe = layer_cost(context, layout, placement, true);
    g.moe_s = layer_chain_seconds(moe, recompute);
    // As estimate_step's stage pass counts it: dispatch and combine of every pass the recompute
    // policy runs, on the adapters only where the EP group leaves the node.
    g.moe_ep_network_s = placement.ep.crosses_nodes() ? ep_comm_passes(recompute) * moe.ep_comm_s : 0.0;
  } else {
    g.moe_s = g.dense_s;
  }
  g.embedding_s = layer_chain_seconds(embedding_cost(context, layout, placement), recompute);
  g.head_s = layer_chain_seconds(head_cost(context, layout, placement), recompute);
  layer_memory(model, group.gpu, layout, options.shape, options.software, 0, g.dense_static, g.dense_act, g.transient);
  if (model.moe) {
    layer_memory(model, group.gpu, layout, options.shape, options.software, model.layers - 1, g.moe_static, g.moe_act, g.transient);
  } else {
    g.moe_static = g.dense_static, g.moe_act = g.dense_act;
  }
  StageSpan none;
  none.first_layer = 0;
  none.last_layer = -1;
  const auto empty = stage_memory(model, group.gpu, layout, options.shape, 0, none, options.software);
  g.fixed = empty.comm_buffers;
  StageSpan first = none;
  first.embedding = true;
  const auto with_embedding = stage_memory(model, group.gpu, layout, options.shape, 0, first, options.software);
  g.embedding_static = with_embedding.weights + with_embedding.grads + with_embedding.optimizer;
  StageSpan last = none;
  last.head = true;
  const auto with_head = stage_memory(model, group.gpu, layout, options.shape, pp - 1, last, options.software);
  // The head's states, plus its logits (and the MTP module's activations) for the one
  // micro-batch the last 1F1B stage holds.
  g.head_static = with_head.weights + with_head.grads + with_head.optimizer + with_head.activations;
  return g;
}

std::vector<ChainItem> layer_chain(const model::ModelSpec& model, const GroupCosts& reference) {
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
  return items;
}

double stage_seconds(const model::ModelSpec& model, const GroupCosts& group, int first_layer, int last_layer,
                     bool embedding, bool head) {
  double seconds = (embedding ? group.embedding_s : 0.0) + (head ? group.head_s : 0.0);
  for (int layer = first_layer; layer <= last_layer; ++layer) {
    seconds += model.is_moe_layer(layer) ? group.moe_s : group.dense_s;
  }
  return seconds;
}

void retime_partition(const model::ModelSpec& model, std::span<const GroupCosts* const> owners,
                      StagePartition& partition) {
  const auto stages = partition.first.size();
  partition.slowest_s = 0;
  for (std::size_t s = 0; s < stages; ++s) {
    const int last = (s + 1 < stages ? partition.first[s + 1] : static_cast<int>(model.layers)) - 1;
    partition.stage_s[s] = stage_seconds(model, *owners[s], partition.first[s], last, s == 0, s + 1 == stages);
    partition.slowest_s = std::max(partition.slowest_s, partition.stage_s[s]);
  }
}

StageDevice stage_device(const model::ModelSpec& model, const GroupCosts& group, const GroupCosts& reference,
                         double in_flight) {
  const double speed = model.moe ? reference.moe_s / group.moe_s : reference.dense_s / group.dense_s;
  // stage_memory's total is (live)·(1 + reserve) + CUDA context, with live = states +
  // activations + transient + buffers: solved for the layers' share.
  const double budget = (group.group->gpu.memory_bytes - k_cuda_context_bytes) / (1.0 + k_allocator_reserve_fraction) -
                        group.fixed - group.transient;
  return {speed, budget, in_flight};
}

} // namespace brix::plan
