#pragma once
// Time of one transformer layer (and of the embedding/head ends of the pipeline) for one
// micro-batch on one GPU: GEMMs by shape, attention core, memory-bound kernels, and the
// collective volumes of tensor, expert and context parallelism. Pure functions.

#include <brix/model/model.hpp>
#include <brix/plan/layout.hpp>
#include <brix/plan/physics.hpp>

#include <vector>

namespace brix::plan {

/// Seconds for one micro-batch through one layer on one GPU.
struct LayerCost {
  double forward_s = 0;   ///< compute of the forward pass
  double backward_s = 0;  ///< compute of the backward pass (input and weight gradients)
  double weight_grad_s = 0; ///< the weight-gradient share of backward (zero-bubble schedules)
  double recompute_full_s = 0;      ///< extra forward when the layer is fully recomputed
  double recompute_selective_s = 0; ///< extra time of selective recomputation (Recompute::selective)
  double recompute_mlp_s = 0;       ///< extra time of selective_mlp: selective's attention side + the MLP block's forward
  double attention_core_s = 0;      ///< forward attention-core compute (hides CP exchange)
  double tp_comm_s = 0;   ///< TP (+SP) collectives of one pass, after overlap
  double ep_comm_s = 0;   ///< expert all-to-all (dispatch + combine) of one pass
  double cp_comm_s = 0;   ///< context-parallel K/V exchange of one pass, before overlap
  double cp_hidden_by_s = 0; ///< the attention-core compute the K/V exchange runs beside
  double cp_backward_tail_s = 0; ///< exchange backward waits for after its last chunk (torch's last dK/dV)
  double forward_flops = 0; ///< FLOPs this GPU executes in one forward pass
  double attention_forward_s = 0;  ///< the attention block's share of forward_s (rest: MLP block)
  double attention_backward_s = 0; ///< the attention block's share of backward_s
  double attention_core_backward_s = 0; ///< the attention core's share of attention_backward_s
  /// Moving this layer's stored activations to host memory (after its forward) or back (before
  /// its backward), one way; 0 unless the layout offloads (Layout::offload).
  double offload_transfer_s = 0;
  /// Of forward_s and backward_s, the time the GPU waits for the host to issue this layer's
  /// operators (the eager host floor in layer_cost.cpp): collectives the same stream runs
  /// (TP, the expert all-to-all or what EP overlap leaves of it) take that idle time first (step_time.cpp).
  double host_idle_forward_s = 0;
  double host_idle_backward_s = 0;
};

/// One attention projection GEMM of a layer on one tensor-parallel rank: [tokens × k]·[k × n].
struct ProjectionGemm {
  double n = 0;
  double k = 0;
  bool after_norm = false;    ///< its input is a norm's output (MLA's up-projections, GQA's QKV)
  bool up_projection = false; ///< MLA's q or kv up-projection (what selective recomputation repeats)
};

/// The attention block's projection GEMMs on one of `tp` ranks, in launch order. MLA: q down
/// (replicated) and q up, or one q projection without a q LoRA; kv down (replicated); kv up;
/// output. GQA/MHA: fused QKV (K/V heads split until each rank holds one), output. Training's
/// layer cost and serving's step time cost the same list.
[[nodiscard]] std::vector<ProjectionGemm> attention_projections(const model::ModelSpec& model, int tp);

/// Where each process group sits: from the rank order (Megatron's tp-cp-ep-dp-pp) and the
/// the GPUs one NVLink domain reaches (NodeGroup::nvlink_reach: a node, or a GB200 NVL72 rack):
/// "ranks_per_node" below counts the ranks of a group inside one such domain.
struct Placement {
  GroupPlacement tp, cp, ep, etp, dp, expert_dp, pp;
  /// ZeRO shard groups and their replicas (Layout::shard): the inner shard_group() ranks of the
  /// DP·CP group and the dp/shard groups across them; without hybrid sharding dp and one rank.
  GroupPlacement dp_shard, dp_replicate, expert_shard, expert_replicate;
};

[[nodiscard]] Placement place_groups(const Layout& layout, int nvlink_reach);

struct CostContext {
  const model::ModelSpec* model = nullptr;
  DeviceModel device;
  SoftwareProfile software;
  std::int64_t seq_len = 0;
  std::int64_t local_batch = 0; ///< TrainingShape::local_batch
};

/// Extra compute backward spends recomputing under `recompute` (collectives not included).
[[nodiscard]] double recompute_seconds(const LayerCost& cost, Recompute recompute);
/// Passes of a layer's TP and of its expert collectives per micro-batch: forward and backward,
/// and once more where the recomputed forward repeats them (full: both; selective_mlp: the
/// MoE block's dispatch and combine).
[[nodiscard]] double tp_comm_passes(Recompute recompute);
[[nodiscard]] double ep_comm_passes(Recompute recompute);
/// One micro-batch of a layer, forward, backward and recompute, with its TP and expert collectives
/// (none overlapped) as the step time takes them: a pass's collectives first fill the time its
/// GPU idles under the host floor (LayerCost::host_idle_forward_s); used to weigh layers for
/// stage splits and mixed node groups.
[[nodiscard]] double layer_chain_seconds(const LayerCost& cost, Recompute recompute);

/// One pass of an MoE layer's router (gating) GEMM, [tokens x hidden]·[hidden x experts], in
/// bf16 whatever the layer's precision: no framework brix profiles runs it in FP8
/// (Megatron-Core's RouterGatingLinearFunction multiplies bf16 operands, core 0.14-0.16
/// moe_utils.py; DeepSeek-V3 keeps "MoE gating modules" in original precision, report Sec. 3.3.1).
[[nodiscard]] double router_gemm_seconds(const DeviceModel& device, double tokens, double experts, double hidden);

/// Cost of decoder layer `layer` (dense or MoE per the model) under `layout`.
[[nodiscard]] LayerCost layer_cost(const CostContext& context, const Layout& layout,
                                   const Placement& placement, bool moe_layer);

/// Extra per-micro-batch cost on the first stage (embedding) and the last (final norm,
/// output head, cross-entropy, multi-token-prediction modules).
[[nodiscard]] LayerCost embedding_cost(const CostContext& context, const Layout& layout,
                                       const Placement& placement);
[[nodiscard]] LayerCost head_cost(const CostContext& context, const Layout& layout,
                                  const Placement& placement);

} // namespace brix::plan
