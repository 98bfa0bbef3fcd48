#include <brix/plan/step_time.hpp>

#include <brix/plan/batch_split.hpp>

#include <algorithm>
#include <cmath>

namespace brix::plan {

namespace {

struct StagePass {
  double forward = 0;     ///< compute + exposed comm of forward, one micro-batch
  double backward = 0;    ///< backward incl. recompute and exposed comm
  double weight_grad = 0; ///< part of backward that zero-bubble schedules may defer
  double recompute = 0;   ///< part of backward that recomputes the forward
  double forward_tp = 0, forward_ep = 0, forward_cp = 0; ///< the forward's share of tp, ep, cp
  double tp = 0, ep = 0, cp = 0, pp = 0;
  /// The expert all-to-all's wire time over the network adapters, exposed or overlapped, where
  /// the EP group spans nodes (data_parallel_cost's `ep_network_s`).
  double ep_network = 0;
  double flops = 0;       ///< executed FLOPs per micro-batch
};

/// What overlapped expert traffic costs the compute beside it: DualPipe's dispatch and combine
/// (DeepEP kernels on their own 20 SMs, scheduled against the other direction's chunk) only their
/// SM share; Megatron-Core's combined-1F1B overlap contends like any collective (the fit set's
/// Megatron-Bridge MoE runs say so: their error grows when it is priced at the SM share).
double expert_contention(const Layout& layout) {
  return layout.schedule == Schedule::dualpipe ? k_dispatch_sm_share : k_overlap_contention;
}

void add_layers(StagePass& pass, const LayerCost& cost, int count, const Layout& layout,
                bool overlap_ep, double ep_contention, double unpaired_share = 0.0, bool ep_on_network = false) {
  if (count <= 0) {
    return;
  }
  const double n = count;
  const double recompute = recompute_seconds(cost, layout.recompute);
  // Recomputation repeats the forward collectives it spans inside backward.
  const double tp_passes = tp_comm_passes(layout.recompute);
  const double ep_passes = ep_comm_passes(layout.recompute);
  // CP's K/V exchange overlaps attention-core chunks; only the excess is exposed.
  const double cp_exposed = std::max(0.0, cost.cp_comm_s - cost.cp_hidden_by_s);
  // Expert all-to-all: dispatch + combine in forward, again for the input gradients (and the
  // recomputed forward). Overlapped (DualPipe, combined 1F1B) it runs beside another
  // micro-batch's compute of this layer, which it slows (contention); otherwise it waits.
  const double ep_total = ep_passes * cost.ep_comm_s;
  const double window = cost.forward_s + cost.backward_s + recompute;
  // Passes with no partner (combined 1F1B's lone first forwards and last backwards,
  // `unpaired_share` of them) wait for theirs.
  const double ep_exposed_total =
      overlap_ep ? (1.0 - unpaired_share) * (overlapped_seconds(window, ep_total, ep_contention) - window) +
                       unpaired_share * ep_total
                 : ep_total;
  const double ep_forward = ep_exposed_total / ep_passes;
  // A host-bound layer's GPU idles between launches; the collectives its stream runs (TP, the
  // expert all-to-all or what overlap leaves of it) fill that idle time before they lengthen the
  // pass: CUDA's launch queue lets the host issue the next operators while a collective runs, so
  // a pass takes the longer of its host time and its GPU work, collectives included.
  // What stays exposed of each pass's collectives is reported as TP and EP time in the share
  // each has of them; the part under the host floor is in the pass's (host-bound) compute.
  const double forward_comm = cost.tp_comm_s + ep_forward;
  const double backward_comm = (tp_passes - 1.0) * cost.tp_comm_s + (ep_exposed_total - ep_forward);
  const double forward_exposed = std::max(0.0, forward_comm - cost.host_idle_forward_s);
  const double backward_exposed = std::max(0.0, backward_comm - cost.host_idle_backward_s);
  const double forward_shown = forward_comm > 0 ? forward_exposed / forward_comm : 0.0;
  const double backward_shown = backward_comm > 0 ? backward_exposed / backward_comm : 0.0;
  pass.forward += n * (cost.forward_s + forward_exposed + cp_exposed);
  pass.backward += n * (cost.backward_s + backward_exposed + recompute + 2.0 * cp_exposed + cost.cp_backward_tail_s);
  pass.weight_grad += n * cost.weight_grad_s;
  pass.recompute += n * recompute;
  pass.forward_tp += n * cost.tp_comm_s * forward_shown;
  pass.forward_ep += n * ep_forward * forward_shown;
  pass.forward_cp += n * cp_exposed;
  pass.tp += n * (cost.tp_comm_s * forward_shown + (tp_passes - 1.0) * cost.tp_comm_s * backward_shown);
  pass.ep += n * (ep_forward * forward_shown + (ep_exposed_total - ep_forward) * backward_shown);
  pass.cp += n * (3.0 * cp_exposed + cost.cp_backward_tail_s);
  pass.ep_network += ep_on_network ? n * ep_total : 0.0;
  const double recompute_flops = layout.recompute == Recompute::full ? cost.forward_flops : 0.0;
  pass.flops += n * (3.0 * cost.forward_flops + recompute_flops);
}

/// One micro-batch's forward and backward through the stages `work` stands for, pipeline
/// transfers (`p2p` each) included.
StagePass stage_pass(const StepInputs& in, const StageWork& work, double p2p) {
  const auto& layout = *in.layout;
  const bool overlap_ep = overlaps_expert_traffic(*in.context, layout);
  const double contention = expert_contention(layout);
  const int pp = layout.pp;
  const int s = work.first_stage;
  const double unpaired =
      overlap_ep && layout.schedule != Schedule::dualpipe
          ? combined_1f1b_unpaired_share(
                layout, static_cast<double>(micro_batches_per_step(layout, TrainingShape{in.global_batch,
                                                                                         in.context->seq_len})),
                s)
          : 0.0;
  StagePass pass;
  add_layers(pass, *in.dense, work.dense_layers, layout, overlap_ep, contention, unpaired);
  add_layers(pass, *in.moe, work.moe_layers, layout, overlap_ep, contention, unpaired,
             in.placement->ep.crosses_nodes());
  if (layout.offload > 0) {
    // The first `offload` layers (dense ones first) copy their activations out on a side stream
    // while the next layer's forward runs, and back while the previous layer's backward runs:
    // only a copy longer than that compute is exposed (Megatron-Core's CPU offloading).
    const int dense = std::min(layout.offload, work.dense_layers);
    const int moe = std::min(layout.offload - dense, work.moe_layers);
    for (const auto& [cost, count] : {std::pair{in.dense, dense}, std::pair{in.moe, moe}}) {
      const double recompute = recompute_seconds(*cost, layout.recompute);
      pass.forward += count * std::max(0.0, cost->offload_transfer_s - cost->forward_s);
      pass.backward += count * std::max(0.0, cost->offload_transfer_s - cost->backward_s - recompute);
    }
  }
  if (work.has_embedding) {
    add_layers(pass, *in.embedding, 1, layout, overlap_ep, contention, unpaired);
  }
  if (work.has_head) {
    add_layers(pass, *in.head, 1, layout, overlap_ep, contention, unpaired);
  }
  const int last = work.first_stage + work.count - 1;
  // DualPipe's two chunks per device mirror each other (its ends hold the model's first and
  // last stage), so only the interleaved schedule deals chunks round-robin.
  const bool round_robin = layout.schedule == Schedule::interleaved;
  const double boundaries = round_robin ? pipeline_boundaries_per_device(pp, layout.vpp, s, last)
                                        : layout.vpp * pipeline_boundaries_per_device(pp, 1, s, last);
  // Batched: the send to one neighbour and the receive from the other share one wait.
  // Unbatched (megatron-2021/2022 profiles): each receive and each send of forward and
  // backward waits in turn (physics.hpp batched_p2p: the 2021 code itself batches them).
  const double transfers = in.context->software.batched_p2p ? boundaries : 2.0 * boundaries;
  pass.pp = transfers * p2p;
  pass.forward += 0.5 * pass.pp;
  pass.backward += 0.5 * pass.pp;
  return pass;
}

} // namespace

StageTimes stage_times(const StepInputs& inputs, const StageWork& work) {
  const auto& layout = *inputs.layout;
  const double p2p = layout.pp > 1 ? pipeline_transfer_seconds(*inputs.context, layout, *inputs.placement) : 0.0;
  const StagePass pass = stage_pass(inputs, work, p2p);
  StageTimes times;
  times.forward = {0, pass.forward_tp, pass.forward_ep, pass.forward_cp, 0.5 * pass.pp};
  times.forward.compute_s = pass.forward - times.forward.comm_s();
  times.backward = {0, pass.tp - pass.forward_tp, pass.ep - pass.forward_ep, pass.cp - pass.forward_cp, 0.5 * pass.pp};
  times.recompute_s = pass.recompute;
  times.backward.compute_s = pass.backward - pass.recompute - times.backward.comm_s();
  times.weight_grad_s = pass.weight_grad;
  return times;
}

double pipeline_boundaries_per_device(int pp, int vpp, int first_stage, int last_stage) {
  if (pp <= 1) {
    return 0.0;
  }
  // Virtual stage c·pp + d sits on device d (Narayanan et al. SC21 §2.2.2, Fig. 4: chunks are
  // dealt round-robin). Each virtual stage has a boundary before it unless it is the model's
  // first and after it unless it is the model's last, so with vpp > 1 the end devices sit on
  // 2·vpp − 1 boundaries (the last device sends its first chunk's output on to device 0).
  // A range of devices is charged like its busiest member.
  const double v = std::max(1, vpp);
  const double before = last_stage > 0 ? v : v - 1.0;
  const double after = first_stage + 1 < pp ? v : v - 1.0;
  return before + after;
}

double combined_1f1b_unpaired_share(const Layout& layout, double micro_batches, int rank) {
  if (micro_batches < 1.0) {
    return 1.0;
  }
  // Megatron-Core's combined 1F1B (core 0.15/0.16 pipeline_parallel/combined_1f1b.py) hides one
  // micro-batch's expert all-to-all behind another's compute only in its paired steps. Without
  // a pipeline: "The forward step for the first microbatch is executed alone, no a2a
  // overlapping" and "The backward step for the last microbatch is executed alone", so 1 of M
  // forwards and 1 of M backwards. Interleaved (schedules.py, the one schedule with pp > 1 that
  // takes the overlap: "virtual_pipeline_model_parallel_size must be specified when
  // pipeline_model_parallel_size > 1"): the warm-up's forwards and the cool-down's backwards,
  // (pp − rank − 1)·2 + (vpp − 1)·pp virtual micro-batches ("num_warmup_microbatches +=
  // (num_model_chunks - 1) * config.microbatch_group_size_per_vp_stage", whose default is pp)
  // plus the one the overlap adds ("num_warmup_microbatches += 1"), of M·vpp.
  // Plain 1F1B with pp > 1 (which Megatron-Core refuses) is given its own warm-up, pp − rank − 1,
  // plus one.
  const int pp = std::max(1, layout.pp);
  const int vpp = layout.schedule == Schedule::interleaved ? std::max(1, layout.vpp) : 1;
  const double rank_from_end = std::max(0, pp - std::clamp(rank, 0, pp - 1) - 1);
  const double warmup = pp == 1 ? 1.0
                        : vpp > 1 ? 2.0 * rank_from_end + (vpp - 1.0) * pp + 1.0
                                  : rank_from_end + 1.0;
  return std::min(1.0, warmup / (micro_batches * vpp));
}

bool overlaps_expert_traffic(const CostContext& context, const Layout& layout) {
  return layout.schedule == Schedule::dualpipe || context.software.overlap_all_to_all;
}

double pipeline_transfer_seconds(const CostContext& context, const Layout& layout, const Placement& placement) {
  const double tokens = static_cast<double>(layout.micro_batch) * context.seq_len / layout.cp;
  const double p2p_bytes = tokens * static_cast<double>(context.model->hidden) * 2.0 / layout.tp;
  double p2p = collective_seconds(context.device, Collective::send_recv, p2p_bytes, placement.pp);
  if (layout.tp > 1 && !layout.sp) {
    // Without SP the receiver all-gathers the TP-scattered activation over NVLink.
    p2p += collective_seconds(context.device, Collective::all_gather, p2p_bytes * layout.tp, placement.tp);
  }
  return p2p;
}

double tied_embedding_sync_seconds(const CostContext& context, const Layout& layout, const Placement& placement,
                                   double grad_wire_bytes) {
  const auto& model = *context.model;
  if (layout.pp <= 1 || !model.tied_embeddings) {
    return 0.0;
  }
  const double grad_bytes = static_cast<double>(model.vocab) * static_cast<double>(model.hidden) / layout.tp *
                            grad_wire_bytes;
  // The two ends share a node only when the whole pipeline group does.
  const GroupPlacement ends{2, placement.pp.crosses_nodes() ? 1 : 2};
  return collective_seconds(context.device, Collective::all_reduce, grad_bytes, ends);
}

void add_layer_totals(LayerPassTotals& totals, const CostContext& context, const LayerCost& cost, int count,
                      const Layout& layout) {
  StagePass pass;
  add_layers(pass, cost, count, layout, overlaps_expert_traffic(context, layout), expert_contention(layout));
  totals.tp += pass.tp;
  totals.ep += pass.ep;
  totals.cp += pass.cp;
  totals.flops += pass.flops;
}

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

double pipeline_schedule_runs(const CostContext& context, const Layout& layout, double micro_batches) {
  if (context.local_batch <= 0) {
    return 1.0;
  }
  const double sequences = micro_batches * layout.micro_batch;
  return std::max(1.0, std::ceil(sequences / static_cast<double>(context.local_batch)));
}

StepEstimate estimate_step(const StepInputs& in, std::span<const StageWork> stages) {
  const auto& layout = *in.layout;
  const auto& context = *in.context;
  const auto& placement = *in.placement;
  StepEstimate estimate;
  const int pp = layout.pp;
  const auto micro_batches =
      static_cast<double>(micro_batches_per_step(layout, TrainingShape{in.global_batch, context.seq_len}));

  // Pipeline point-to-point: one activation per micro-batch each way per stage boundary,
  // split over TP ranks (Megatron's scatter/gather), once per virtual stage.
  const double p2p = pp > 1 ? pipeline_transfer_seconds(context, layout, placement) : 0.0;

  double sum_stage = 0, max_stage = 0, max_forward = 0, max_backward = 0;
  double max_weight_grad = 0;
  double flops_per_micro_batch = 0;
  StagePass critical;
  const StageWork* critical_work = &stages.front();
  for (const auto& work : stages) {
    const int s = work.first_stage;
    const StagePass pass = stage_pass(in, work, p2p);
    const double total = pass.forward + pass.backward;
    sum_stage += work.count * total;
    flops_per_micro_batch += work.count * pass.flops;
    if (total > max_stage) {
      max_stage = total;
      critical = pass;
      critical_work = &work;
      estimate.critical_stage = s;
    }
    max_forward = std::max(max_forward, pass.forward);
    max_backward = std::max(max_backward, pass.backward);
    max_weight_grad = std::max(max_weight_grad, pass.weight_grad);
  }

  // Bubble by schedule (planning-formulas.md), generalised to unequal stages: the fill and
  // drain cost the other stages' time once, the steady state is the slowest stage m times.
  const double others = sum_stage - max_stage;
  double bubble = 0;
  switch (layout.schedule) {
  case Schedule::one_f_one_b:
    bubble = others;
    break;
  case Schedule::interleaved:
    bubble = others / layout.vpp;
    break;
  case Schedule::zb_h1: {
    // ZB-H1: bubble (p−1)(F + B − W) with B the input-gradient part: deferring W fills it.
    const double share = (max_forward + max_backward - 2.0 * max_weight_grad) / std::max(max_stage, 1e-12);
    bubble = others * std::clamp(share, 1.0 / 3.0, 1.0) / 1.0;
    bubble = std::min(bubble, others);
    break;
  }
  case Schedule::dualpipe: {
    // DualPipe: (p/2 − 1)(F&B + B − 3W), with F&B the overlapped forward+backward chunk.
    const double chunk = std::max(0.0, max_forward + 2.0 * max_backward - 3.0 * max_weight_grad);
    bubble = std::max(0.0, pp / 2.0 - 1.0) * chunk;
    break;
  }
  }
  // Every run of the schedule fills and drains the pipeline again.
  bubble *= pipeline_schedule_runs(context, layout, micro_batches);
  estimate.pipeline_s = micro_batches * max_stage + bubble;
  estimate.bubble_s = bubble;

  const auto& work = *critical_work;
  estimate.critical_stage_s = max_stage;
  estimate.stage_sum_s = sum_stage;
  const auto data_parallel = data_parallel_cost(context, layout, placement, work.dense_params, work.expert_params,
                                                in.grad_wire_bytes, micro_batches, max_stage, critical.backward,
                                                work.outside_layer_params, critical.ep_network);
  estimate.pipeline_s += data_parallel.pipeline_extra_s;
  estimate.comm.dp = data_parallel.pipeline_extra_s + data_parallel.exposed_s;
  estimate.optimizer_s = data_parallel.optimizer_s;
  const double dp_exposed = data_parallel.exposed_s;
  const double embedding_sync = tied_embedding_sync_seconds(context, layout, placement, in.grad_wire_bytes);
  estimate.comm.pp = embedding_sync;
  // A framework that all-reduces each micro-batch's loss over DP makes the replicas wait for
  // the slowest of them once per micro-batch (physics.hpp loss_all_reduce_per_micro_batch).
  const double micro_batch_sync =
      context.software.loss_all_reduce_per_micro_batch ? micro_batch_sync_seconds(micro_batches, max_stage, layout.dp)
                                                       : 0.0;
  estimate.step_s = estimate.pipeline_s + micro_batch_sync + dp_exposed + embedding_sync + estimate.optimizer_s;
  // Every step waits for its slowest GPU.
  estimate.sync_s = estimate.step_s * (sync_slowdown(layout.world()) - 1.0) + micro_batch_sync;
  estimate.step_s += estimate.sync_s - micro_batch_sync;
  estimate.bubble_fraction = estimate.step_s > 0 ? bubble / estimate.step_s : 0.0;
  estimate.comm.tp = micro_batches * critical.tp;
  estimate.comm.ep = micro_batches * critical.ep;
  estimate.comm.cp = micro_batches * critical.cp;
  estimate.comm.pp += micro_batches * critical.pp;
  // Executed FLOPs: every stage's work on every micro-batch of every data-parallel replica.
  estimate.hardware_flops = flops_per_micro_batch * micro_batches * layout.dp * layout.cp * layout.tp;
  return estimate;
}

} // namespace brix::plan
