#pragma once
// Step time of a training layout: pipeline schedule over per-stage micro-batch times, plus the
// exposed data-parallel traffic and the optimizer step. Pure function of its inputs.

#include <brix/plan/layer_cost.hpp>

#include <array>
#include <cstdint>
#include <span>

namespace brix::plan {

/// What one pipeline stage holds (per model replica, before any parallel split).
struct StageWork {
  int count = 1;        ///< identical consecutive stages this entry stands for
  int first_stage = 0;  ///< index of the first of them
  int dense_layers = 0;
  int moe_layers = 0;
  bool has_embedding = false;
  bool has_head = false; ///< final norm, output head, MTP modules
  double dense_params = 0;  ///< parameters split by TP (and replicated norms)
  double expert_params = 0; ///< routed-expert parameters, split by EP·ETP
  /// Of dense_params, those outside the transformer layers: the embeddings and the output head.
  double outside_layer_params = 0;
};

/// Stages are given compressed: runs of identical stages as one entry with a count, in order.
/// Exposed communication per parallel dimension, seconds per step.
struct CommExposed {
  double tp = 0, pp = 0, dp = 0, ep = 0, cp = 0;
};

struct StepEstimate {
  double step_s = 0;
  double pipeline_s = 0;   ///< forward/backward of all micro-batches including bubbles
  double bubble_s = 0;     ///< idle time of the slowest stage inside pipeline_s
  double optimizer_s = 0;
  double sync_s = 0;       ///< waiting for the slowest of the synchronised GPUs (sync_slowdown)
  double bubble_fraction = 0; ///< bubble_s / step_s
  CommExposed comm;
  double hardware_flops = 0;  ///< FLOPs executed per step on all GPUs (recompute included)
  int critical_stage = 0;
  double critical_stage_s = 0; ///< per-micro-batch time of the slowest stage
  /// Sum over all stages of one micro-batch's forward + backward (p2p included): the same for
  /// every contiguous split of the layers, which bounds what rebalancing the stages can gain.
  double stage_sum_s = 0;
};

struct StepInputs {
  const CostContext* context = nullptr;
  const Layout* layout = nullptr;
  const Placement* placement = nullptr;
  const LayerCost* dense = nullptr; ///< cost of a dense decoder layer
  const LayerCost* moe = nullptr;   ///< cost of a MoE decoder layer (may equal dense)
  const LayerCost* embedding = nullptr;
  const LayerCost* head = nullptr;
  std::int64_t global_batch = 0;
  double grad_wire_bytes = 4.0; ///< bytes per gradient element on the wire (fp32 = 4)
};

/// Step inputs pointing at one layout's placement and layer costs (valid while those live).
inline StepInputs step_inputs_of(const CostContext& context, const Layout& layout, const Placement& placement,
                                 const LayerCost& dense, const LayerCost& moe, const LayerCost& embedding,
                                 const LayerCost& head, std::int64_t global_batch, double grad_wire_bytes) {
  StepInputs inputs;
  inputs.context = &context;
  inputs.layout = &layout;
  inputs.placement = &placement;
  inputs.dense = &dense;
  inputs.moe = &moe;
  inputs.embedding = &embedding;
  inputs.head = &head;
  inputs.global_batch = global_batch;
  inputs.grad_wire_bytes = grad_wire_bytes;
  return inputs;
}

/// Data-parallel traffic and the optimizer step of one pipeline stage holding `dense_params`
/// (split by TP, `outside_layer_params` of them outside the transformer layers) and
/// `expert_params` (split by EP·ETP). `ep_network_s`: seconds per micro-batch the stage's expert
/// all-to-all holds the node's network adapters (its passes over an EP group that spans nodes;
/// 0 otherwise): ZeRO-3 traffic that crosses nodes shares those adapters (see data_parallel_cost.cpp).
struct DataParallelCost {
  double pipeline_extra_s = 0; ///< ZeRO-3: exposed per-micro-batch gathers, inside the pipeline
  double exposed_s = 0;        ///< gradient reduction not hidden behind backward
  double optimizer_s = 0;
};
[[nodiscard]] DataParallelCost data_parallel_cost(const CostContext& context, const Layout& layout,
                                                  const Placement& placement, double dense_params,
                                                  double expert_params, double grad_wire_bytes,
                                                  double micro_batches, double stage_s, double backward_window_s,
                                                  double outside_layer_params = 0, double ep_network_s = 0);

/// Compute-stream seconds one micro-batch spends copying ZeRO-3 gathers out of the flat all-gather
/// buffer (SoftwareProfile::gather_copy_out): `gathers` gathers of the stage's `dense_params` (per
/// TP rank) and `expert_params` (per EP·ETP rank), each read and written once at the gather's width;
/// 0 without the profile's copy-out or where a group has one rank (nothing gathered).
[[nodiscard]] double gather_copy_out_seconds(const CostContext& context, const Layout& layout,
                                             const Placement& placement, double dense_params,
                                             double expert_params, double gathers);

/// Compute-stream seconds of one ZeRO-3 gradient copy-in (SoftwareProfile::reduce_scatter_copy_in):
/// the bf16 gradients of the stage's `dense_params` and `expert_params` read and written into the
/// reduce-scatter buffer at `grad_wire_bytes`; 0 without it or where a group has one rank.
[[nodiscard]] double reduce_scatter_copy_in_seconds(const CostContext& context, const Layout& layout,
                                                    const Placement& placement, double dense_params,
                                                    double expert_params, double grad_wire_bytes);

/// Runs of the pipeline schedule in a step of `micro_batches` micro-batches per data-parallel
/// rank: one per CostContext::local_batch sequences (at least 1), or 1 without a local batch.
[[nodiscard]] double pipeline_schedule_runs(const CostContext& context, const Layout& layout, double micro_batches);

[[nodiscard]] StepEstimate estimate_step(const StepInputs& inputs, std::span<const StageWork> stages);

/// One pass of one micro-batch through a stage: compute and the exposed communication in it.
struct PassTimes {
  double compute_s = 0;
  double tp_s = 0, ep_s = 0, cp_s = 0; ///< exposed TP (+SP), expert all-to-all, CP K/V exchange
  double p2p_s = 0;                    ///< pipeline sends and receives
  [[nodiscard]] double comm_s() const { return tp_s + ep_s + cp_s + p2p_s; }
  [[nodiscard]] double total_s() const { return compute_s + comm_s(); }
};

/// One stage's forward and backward of one micro-batch exactly as estimate_step charges them
/// (for each of the identical stages `work` stands for): forward.total_s() and
/// backward.total_s() + recompute_s add up to the stage time the bubble and the step come from.
/// The pipeline timeline of `brix plan --emit html` draws these.
struct StageTimes {
  PassTimes forward;
  PassTimes backward;       ///< compute includes weight_grad_s
  double recompute_s = 0;   ///< the forward recomputed inside backward
  double weight_grad_s = 0; ///< the share of backward compute zero-bubble schedules defer
  [[nodiscard]] double forward_s() const { return forward.total_s(); }
  [[nodiscard]] double backward_s() const { return backward.total_s() + recompute_s; }
};
[[nodiscard]] StageTimes stage_times(const StepInputs& inputs, const StageWork& work);

/// Once per step, after the backward: the first and the last pipeline stage each hold a copy of
/// a tied word embedding and all-reduce its gradient between them (Megatron-LM's
/// `_allreduce_embedding_grads` of 2021, Megatron-Core's `_allreduce_word_embedding_grads`):
/// vocab·hidden/tp gradients at `grad_wire_bytes`. Zero without pipeline or tied embeddings.
[[nodiscard]] double tied_embedding_sync_seconds(const CostContext& context, const Layout& layout,
                                                 const Placement& placement, double grad_wire_bytes);

/// One pipeline transfer of a micro-batch's activation between neighbouring stages (one way),
/// with the TP all-gather the receiver needs without sequence parallelism.
[[nodiscard]] double pipeline_transfer_seconds(const CostContext& context, const Layout& layout,
                                               const Placement& placement);

/// Exposed TP, EP and CP communication and executed FLOPs of one micro-batch (forward and
/// backward, recomputation included) through `count` layers of `cost`, with the expert
/// all-to-all waited for in every pass: what layer_chain_seconds, the mixed search's per-layer
/// time, charges for them (that search does not overlap the all-to-all with another
/// micro-batch's compute, so its report must not either).
struct LayerPassTotals {
  double tp = 0, ep = 0, cp = 0;
  double flops = 0;
};
void add_layer_totals(LayerPassTotals& totals, const LayerCost& cost, int count, const Layout& layout);

/// Pipeline stage boundaries one device of stages [first_stage, last_stage] sends or receives
/// across per micro-batch and pass, under the interleaved schedule with `vpp` chunks per device
/// (vpp = 1: 1F1B): 2·vpp for a middle device, one fewer at each end of the pipeline.
[[nodiscard]] double pipeline_boundaries_per_device(int pp, int vpp, int first_stage, int last_stage);

/// Share of device `rank`'s forward (and as many backward) passes per step that Megatron-Core's
/// combined 1F1B runs with no other micro-batch's pass beside them, so their expert all-to-all
/// is not hidden: 1/M without a pipeline, the interleaved warm-up (plus the one extra the overlap
/// adds) over the M·vpp virtual micro-batches with one. M = `micro_batches` per step; at most 1.
/// For the layouts combined_1f1b_runs takes.
[[nodiscard]] double combined_1f1b_unpaired_share(const Layout& layout, double micro_batches, int rank);

/// Whether the expert all-to-all of a micro-batch runs beside another micro-batch's compute:
/// under DualPipe, or where the framework overlaps it (SoftwareProfile::overlap_all_to_all) and
/// Megatron-Core's combined 1F1B takes the layout (combined_1f1b_runs).
[[nodiscard]] bool overlaps_expert_traffic(const CostContext& context, const Layout& layout);

/// Whether Megatron-Core's combined-1F1B EP overlap can run `layout` at all: expert parallelism,
/// no full recomputation and no recomputed MoE layer (selective_mlp), and virtual pipeline
/// stages where there is a pipeline.
[[nodiscard]] bool combined_1f1b_runs(const Layout& layout);

} // namespace brix::plan
