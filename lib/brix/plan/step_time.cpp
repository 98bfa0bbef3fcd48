// Step time of a training layout (step_time.hpp): each stage's forward and backward of one
// micro-batch with the TP, expert and CP traffic they expose, the pipeline schedule's bubble over
// the slowest stage, and the data-parallel, optimizer and synchronisation time on top.

#include <brix/plan/step_time.hpp>

#include <brix/plan/batch_split.hpp>

#include <algorithm>

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

bool overlaps_expert_traffic(const CostContext& context, const Layout& layout) {
  return layout.schedule == Schedule::dualpipe || (context.software.overlap_all_to_all && combined_1f1b_runs(layout));
}

bool combined_1f1b_runs(const Layout& layout) {
  // Megatron-Core's TransformerConfig refuses overlap_moe_expert_parallel_comm without expert
  // parallelism, with full recomputation ("disable full recomputation when enabling
  // overlap_moe_expert_parallel_comm") and, with a pipeline, without virtual stages ("If enabling
  // EP A2A overlap, virtual_pipeline_model_parallel_size must be specified when
  // pipeline_model_parallel_size > 1"): megatron/core/transformer/transformer_config.py. Nor with
  // the MoE layer among the recomputed modules ("disable moe in recompute_modules when enabling
  // overlap_moe_expert_parallel_comm", 2edffadb on), which selective_mlp recomputes (emit.cpp).
  return layout.ep > 1 && layout.recompute != Recompute::full && layout.recompute != Recompute::selective_mlp &&
         (layout.pp == 1 || (layout.schedule == Schedule::interleaved && layout.vpp > 1));
}

void add_layer_totals(LayerPassTotals& totals, const LayerCost& cost, int count, const Layout& layout) {
  StagePass pass;
  add_layers(pass, cost, count, layout, false, expert_contention(layout));
  totals.tp += pass.tp;
  totals.ep += pass.ep;
  totals.cp += pass.cp;
  totals.flops += pass.flops;
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
