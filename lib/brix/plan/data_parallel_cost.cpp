// Data-parallel traffic and the optimizer step of one pipeline stage (step_time.hpp
// data_parallel_cost): gradient reduction and parameter gathers by ZeRO stage and hybrid sharding,
// what of them backward and the stage's compute hide, ZeRO-3's copies in and out of the collective
// buffers, and Adam's memory traffic.

#include <brix/plan/step_time.hpp>

#include <algorithm>

namespace brix::plan {

namespace {

/// The parameters ZeRO-3 shards over more than one rank: what its gathers and reduce-scatters move.
double zero3_sharded_params(const Layout& layout, const Placement& placement, double dense_params,
                            double expert_params) {
  if (layout.zero != 3) {
    return 0.0;
  }
  return (placement.dp.ranks > 1 ? std::max(0.0, dense_params) : 0.0) +
         (placement.expert_dp.ranks > 1 ? std::max(0.0, expert_params) : 0.0);
}

} // namespace

double gather_copy_out_seconds(const CostContext& context, const Layout& layout, const Placement& placement,
                               double dense_params, double expert_params, double gathers) {
  if (!context.software.gather_copy_out) {
    return 0.0;
  }
  const double gathered = zero3_sharded_params(layout, placement, dense_params, expert_params);
  const double width = parameter_gather_bytes(layout.precision == Precision::fp8, context.software);
  return memory_seconds(context.device, 2.0 * width * gathers * gathered); // read the buffer, write the tensors
}

double reduce_scatter_copy_in_seconds(const CostContext& context, const Layout& layout, const Placement& placement,
                                      double dense_params, double expert_params, double grad_wire_bytes) {
  if (!context.software.reduce_scatter_copy_in) {
    return 0.0;
  }
  const double reduced = zero3_sharded_params(layout, placement, dense_params, expert_params);
  // Autograd's gradients carry the parameters' bf16 (FSDP2's param_dtype): read 2 B, write the reduce dtype.
  return memory_seconds(context.device, (2.0 + grad_wire_bytes) * reduced);
}

DataParallelCost data_parallel_cost(const CostContext& context, const Layout& layout, const Placement& placement,
                                    double dense_params, double expert_params, double grad_wire_bytes,
                                    double micro_batches, double stage_s, double backward_window_s,
                                    double outside_layer_params, double ep_network_s) {
  const auto& device = context.device;
  DataParallelCost cost;
  // Gradients reduced (and parameters gathered under the distributed optimizer): dense weights
  // over DP·CP, experts over expert-DP; with hybrid sharding over their shard groups, then
  // all-reduced across the replicas.
  const double dense_local = dense_params / layout.tp;
  // Every gathered parameter counted at the gather's width (embedding and output layer stay
  // bf16 in Megatron: under FP8 gathers this undercounts their share, 1/8 of Llama 3.1 8B's).
  const double gather_bytes = parameter_gather_bytes(layout.precision == Precision::fp8, context.software);
  const double expert_local = expert_params / (layout.ep * layout.etp);
  // Hybrid sharding: the replicas of a shard group all-reduce the gradient shard each of them
  // reduce-scattered (FSDP's HYBRID_SHARD; zero without replicas: nothing).
  auto across_replicas = [&](double params, const GroupPlacement& shard, const GroupPlacement& replicas) {
    if (replicas.ranks <= 1 || params <= 0) {
      return 0.0;
    }
    return collective_seconds(device, Collective::all_reduce, params / shard.ranks * grad_wire_bytes, replicas);
  };
  auto both_groups = [&](auto&& collective) {
    return collective(dense_local, placement.dp, placement.dp_shard, placement.dp_replicate) +
           collective(expert_local, placement.expert_dp, placement.expert_shard, placement.expert_replicate);
  };
  const bool replicas_every_micro_batch = context.software.replica_all_reduce_every_micro_batch;
  // NeMo AutoModel's FSDP2 without pipeline parallelism: no gradient sync before the last
  // micro-batch's backward (physics.hpp grad_sync_last_micro_batch).
  const bool sync_last_micro_batch_only = context.software.grad_sync_last_micro_batch && layout.pp == 1;
  // A gradient sync: the reduce-scatter over the shard group, then, where `with_replicas`, the
  // replicas' all-reduce of the shard.
  auto gradient_sync = [&](double params, const GroupPlacement& group, const GroupPlacement& shard,
                           const GroupPlacement& replicas, bool with_replicas) {
    if (group.ranks <= 1 || params <= 0) {
      return 0.0;
    }
    return collective_seconds(device, Collective::reduce_scatter, params * grad_wire_bytes, shard) +
           (with_replicas ? across_replicas(params, shard, replicas) : 0.0);
  };
  // What a micro-batch's backward reduces when the framework reduces per micro-batch: the
  // reduce-scatter, and the replicas' all-reduce where the framework runs it every time.
  auto scatter_per_micro = [&](double params, const GroupPlacement& group, const GroupPlacement& shard,
                               const GroupPlacement& replicas) {
    return gradient_sync(params, group, shard, replicas, replicas_every_micro_batch);
  };
  // Collectives after the last micro-batch's backward: buckets reduce while it runs, the last
  // bucket cannot.
  auto exposed_after_backward = [&](double total) {
    if (!context.software.overlap_grad_reduce) {
      return total;
    }
    const double bucket_share = std::min(1.0, 40e6 / std::max(1.0, dense_local + expert_local));
    return std::max(total * bucket_share, overlapped_seconds(backward_window_s, total) - backward_window_s);
  };
  auto reduce = [&](double params, const GroupPlacement& group, const GroupPlacement& shard,
                    const GroupPlacement& replicas) {
    if (group.ranks <= 1 || params <= 0) {
      return 0.0;
    }
    const double grad_bytes = params * grad_wire_bytes;
    if (layout.zero == 0) {
      return collective_seconds(device, Collective::all_reduce, grad_bytes, group);
    }
    // Distributed optimizer: reduce-scatter gradients, all-gather the updated parameters.
    return collective_seconds(device, Collective::reduce_scatter, grad_bytes, shard) +
           collective_seconds(device, Collective::all_gather, params * gather_bytes, shard) +
           across_replicas(params, shard, replicas);
  };
  if (layout.zero == 3) {
    // ZeRO-3: parameters gathered for every forward, backward (and recompute) of every
    // micro-batch, gradients reduce-scattered each micro-batch; prefetching overlaps them
    // with compute, so only their excess over the stage's compute is exposed. Not resharded
    // after forward (reshard=0), the forward's gather serves the backward and the recompute.
    const bool recompute_gathers =
        layout.recompute == Recompute::full && !context.software.recompute_reuses_backward_gather;
    const double gathers = !layout.reshard ? 1.0 : recompute_gathers ? 3.0 : 2.0;
    // Where the framework keeps what lies outside its FSDP units gathered for the whole step
    // (physics.hpp outside_layers_gathered_once), those parameters are gathered once per step:
    // a 1/micro_batches share of a gather per micro-batch.
    const double once_local = context.software.outside_layers_gathered_once
                                  ? std::clamp(outside_layer_params / layout.tp, 0.0, dense_local)
                                  : 0.0;
    auto per_micro = [&](double params, double once_params, const GroupPlacement& group,
                         const GroupPlacement& shard, const GroupPlacement& replicas) {
      if (group.ranks <= 1 || params <= 0) {
        return 0.0;
      }
      const double gathered =
          gathers * collective_seconds(device, Collective::all_gather, (params - once_params) * gather_bytes, shard) +
          collective_seconds(device, Collective::all_gather, once_params * gather_bytes, shard) /
              std::max(1.0, micro_batches);
      return sync_last_micro_batch_only ? gathered : gathered + scatter_per_micro(params, group, shard, replicas);
    };
    const double dense_mb = per_micro(dense_local, once_local, placement.dp, placement.dp_shard, placement.dp_replicate);
    const double expert_mb =
        per_micro(expert_local, 0.0, placement.expert_dp, placement.expert_shard, placement.expert_replicate);
    const double per_mb = dense_mb + expert_mb;
    // The expert all-to-all over an EP group that spans nodes (DeepEP's internode kernels: RDMA
    // through NVSHMEM/IBGDA on the node's InfiniBand HCAs; NCCL's all-to-all: its IB transport)
    // and the ZeRO-3 gathers and reduce-scatters over a shard group that spans nodes (NCCL's IB
    // transport) go through the same adapters; DeepEP's README ("Network configurations",
    // "Traffic isolation") recommends putting expert-parallel and other workloads on separate
    // InfiniBand virtual lanes "to prevent interference between different types of traffic",
    // lanes that still share each link's bandwidth. The ZeRO-3 collectives run on their own stream,
    // spread over the micro-batch, so the share `ep_network_s / stage_s` of their internode wire
    // time falls while the all-to-all holds the adapters; there the adapters carry the sum of
    // both byte streams, and the all-to-all, which the stage waits on, finishes that much later.
    const double on_network = ep_network_s > 0 && stage_s > 0
                                  ? (placement.dp_shard.crosses_nodes() ? dense_mb : 0.0) +
                                        (placement.expert_shard.crosses_nodes() ? expert_mb : 0.0)
                                  : 0.0;
    // The delay is at most the all-to-all's own wire time (fair shares: it gets at least half the
    // adapters), and once the ZeRO-3 traffic outlasts the stage it is its excess that the micro-batch
    // waits for, with the all-to-all's wire time on top: the adapters carry both.
    const double shared_adapters =
        on_network > 0 ? std::min({on_network * ep_network_s / stage_s, on_network, ep_network_s}) : 0.0;
    const double exposed_per_mb =
        context.software.overlap_param_gather ? overlapped_seconds(stage_s, per_mb) - stage_s + shared_adapters
                                              : per_mb;
    // Copy-in before each reduce-scatter: every micro-batch, or once where the trainer syncs only the last.
    const double copy_in =
        reduce_scatter_copy_in_seconds(context, layout, placement, dense_local, expert_local, grad_wire_bytes);
    cost.pipeline_extra_s =
        micro_batches * (exposed_per_mb + (sync_last_micro_batch_only ? 0.0 : copy_in) +
                         gather_copy_out_seconds(context, layout, placement, dense_local - once_local, expert_local,
                                                 gathers)) +
        (sync_last_micro_batch_only ? copy_in : 0.0);
    if (sync_last_micro_batch_only) {
      // One reduce-scatter (and replicas' all-reduce) after the last backward, as ZeRO-1/2's.
      cost.exposed_s = exposed_after_backward(both_groups(
          [&](double params, const GroupPlacement& group, const GroupPlacement& shard, const GroupPlacement& replicas) {
            return gradient_sync(params, group, shard, replicas, true);
          }));
    } else if (!replicas_every_micro_batch) {
      // Megatron's FSDP all-reduces across the replicas once, on the last micro-batch.
      cost.exposed_s = exposed_after_backward(both_groups(
          [&](double params, const GroupPlacement& group, const GroupPlacement& shard, const GroupPlacement& replicas) {
            return group.ranks <= 1 ? 0.0 : across_replicas(params, shard, replicas);
          }));
    }
  } else {
    cost.exposed_s = exposed_after_backward(both_groups(reduce));
    if (layout.zero == 2 && context.software.zero2_reduce_every_micro_batch && !sync_last_micro_batch_only &&
        micro_batches > 1) {
      // ZeRO-2 reduce-scatters every micro-batch, each beside that micro-batch's backward; the
      // last one's is the once-per-step reduction above.
      const double per_mb = both_groups(scatter_per_micro);
      const double exposed_per_mb = context.software.overlap_grad_reduce
                                        ? overlapped_seconds(backward_window_s, per_mb) - backward_window_s
                                        : per_mb;
      cost.pipeline_extra_s = (micro_batches - 1.0) * exposed_per_mb;
    }
  }
  // Optimizer: Adam reads gradient, master, m, v (4 B each), writes master, m, v and the bf16
  // weight: 30 bytes per locally owned parameter.
  const double shard_dense = layout.zero >= 1 ? dense_local / layout.shard_group() : dense_local;
  const double shard_expert = layout.zero >= 1 ? expert_local / layout.expert_shard_group() : expert_local;
  cost.optimizer_s = memory_seconds(device, 30.0 * (shard_dense + shard_expert)) + 50 * device.kernel_overhead_s;
  return cost;
}

} // namespace brix::plan
