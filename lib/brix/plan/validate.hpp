#pragma once
// The one answer to "can this layout run?". Each constraint is one rule function here;
// validate() runs them all and lists every problem of a layout as a typed value. The search
// calls the same rules level by level of its loops (so a whole family of layouts is counted
// under the rule it breaks), `brix plan --layout` lists the problems, `--memory` reports them,
// and recover re-plans with them. Nothing else decides whether a layout is valid.

#include <brix/cluster/cluster.hpp>
#include <brix/model/model.hpp>
#include <brix/plan/layout.hpp>
#include <brix/plan/physics.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::plan {

enum class ProblemKind {
  bad_size,                ///< a degree, micro-batch or vpp below 1, zero outside 0–3
  world_size,              ///< tp·cp·pp·dp is not the GPUs the layout must fill (a = tp·cp·pp, b = dp)
  tp_crosses_node,         ///< a TP group leaves its NVLink domain (a = tp, b = domain)
  tp_heads,                ///< tp does not divide the attention heads (a = tp)
  tp_kv_heads,             ///< tp does not divide the key/value heads (a = tp)
  cp_sequence,             ///< seq_len not divisible by 2·cp (a = cp)
  pp_layers,               ///< more stages than layers (a = pp)
  ep_experts,              ///< ep does not divide the routed experts, or ep/etp > 1 on a dense model (a = ep)
  ep_group,                ///< ep·etp does not divide tp·cp·dp (a = ep·etp, b = tp·cp·dp)
  moe_tp_needs_sp,         ///< MoE with tp > 1 and sequence parallelism off (a = tp)
  batch,                   ///< global batch not a multiple of dp·micro-batch (a = dp, b = micro-batch)
  schedule_needs_pipeline, ///< a pipeline schedule other than 1F1B with pp = 1
  vpp_needs_interleaved,   ///< vpp > 1 with a schedule other than interleaved (a = vpp)
  vpp_layers,              ///< interleaved: vpp < 2, or layers not divisible by pp·vpp (a = pp, b = vpp)
  pp_split,                ///< pp_embedding/pp_loss: layers + those not divisible by pp·vpp, a stage
                           ///< left without a decoder layer, or no pipeline (a = layers + extras, b = pp·vpp)
  interleave_batches,      ///< interleaved: micro-batches per step not a multiple of pp (a = pp, b = vpp)
  dualpipe,                ///< DualPipe: odd pp, or fewer than 2·pp micro-batches (a = pp)
  fp8_unsupported,         ///< fp8 on GPUs without FP8 tensor cores
  software_lacks,          ///< the framework generation cannot run this (a = SoftwareFeature)
  cpu_offload,             ///< offload > 0 with pp > 1, or not fewer than the layers (a = offload, b = pp)
  expert_capacity,         ///< capacity= on a model without routed experts
  shard_group,             ///< shard= does not divide dp, or the expert-DP group over the replicas (a = shard, b = dp)
  shard_zero,              ///< shard= below zero 1 or reshard=0 below zero 3 (a = the zero needed, b = zero)
  // Found by costing, never by validate(): the search counts layouts under these too.
  out_of_memory, ///< a = excess GiB bucket (0, 4, 16, 64, 256)
  bound,         ///< cannot beat the top K (a = K)
};

/// What a framework generation may lack (ProblemKind::software_lacks).
enum class SoftwareFeature { sequence_parallel, fp8_grad_compression, zero_bubble_schedule };

/// One broken constraint with the numbers that say how (see ProblemKind for a and b).
struct Problem {
  ProblemKind kind = ProblemKind::bad_size;
  std::int64_t a = 0;
  std::int64_t b = 0;
  auto operator<=>(const Problem&) const = default;
};

/// What a layout is checked against.
struct ValidationTarget {
  int gpus = 0;          ///< the GPUs the layout must fill exactly
  int nvlink_domain = 8; ///< GPUs a TP group may span (the NVLink domain, else the GPUs per node)
  bool fp8 = true;       ///< every GPU has FP8 tensor cores
  SoftwareProfile software; ///< what the framework can run
};

/// GPUs a TP group of `group` may span: its NVLink domain, or its node when it has no NVLink.
[[nodiscard]] int tp_domain(const cluster::NodeGroup& group);

// The rules, each nullopt when its constraint holds.
[[nodiscard]] std::optional<Problem> check_sizes(const Layout& layout);
/// TP inside one NVLink domain.
[[nodiscard]] std::optional<Problem> check_tp_domain(const ValidationTarget& target, int tp);
/// TP dividing the attention heads and (GQA/MHA; MLA has no KV heads to split) the KV heads.
[[nodiscard]] std::optional<Problem> check_tp_heads(const model::ModelSpec& model, int tp);
[[nodiscard]] std::optional<Problem> check_context_parallel(const TrainingShape& shape, int cp);
[[nodiscard]] std::optional<Problem> check_pipeline_depth(const model::ModelSpec& model, int pp);
/// `dp` nullopt: any data-parallel size that fills the GPUs.
[[nodiscard]] std::optional<Problem> check_world(const ValidationTarget& target, int tp, int cp, int pp,
                                                 std::optional<int> dp);
[[nodiscard]] std::optional<Problem> check_experts(const model::ModelSpec& model, int ep, int etp);
[[nodiscard]] std::optional<Problem> check_expert_groups(int tp, int cp, int dp, int ep, int etp);
[[nodiscard]] std::optional<Problem> check_sequence_parallel(const model::ModelSpec& model, int tp, bool sp);
[[nodiscard]] std::optional<Problem> check_batch(const TrainingShape& shape, int dp, int micro_batch);
/// The pipeline schedule with `micro_batches` per step.
[[nodiscard]] std::optional<Problem> check_schedule(const model::ModelSpec& model, const ValidationTarget& target,
                                                    const Layout& layout, std::int64_t micro_batches);
[[nodiscard]] std::optional<Problem> check_precision(const ValidationTarget& target, Precision precision);
/// Megatron's --account-for-embedding/loss-in-pipeline-split: (layers + extras) divisible by
/// pp·vpp (vpp 1 without interleaving), every stage keeping a decoder layer, and a pipeline.
[[nodiscard]] std::optional<Problem> check_pipeline_split(const model::ModelSpec& model, const Layout& layout);
/// Sequence parallelism, FP8 gradient compression and zero-bubble schedules where the framework has them.
[[nodiscard]] std::optional<Problem> check_software(const ValidationTarget& target, const Layout& layout);
/// Megatron-Core's CPU offloading: no pipeline parallelism, fewer offloaded layers than layers.
[[nodiscard]] std::optional<Problem> check_offload(const model::ModelSpec& model, const Layout& layout);
/// An expert capacity factor only on a MoE model (Megatron-Core sizes routed experts' inputs with it).
[[nodiscard]] std::optional<Problem> check_capacity(const model::ModelSpec& model, const Layout& layout);

/// Hybrid sharding and FSDP's reshard_after_forward: shard divides dp (and the replicas divide
/// the expert-DP group), shard only where ZeRO shards something (zero >= 1: Megatron-Core's
/// partial distributed optimizer is hybrid-sharded ZeRO-1), reshard=0 only
/// where it shards parameters (zero = 3).
[[nodiscard]] std::optional<Problem> check_sharding(const Layout& layout);
/// What a shard_group or shard_zero problem means, in words (needs no model).
[[nodiscard]] std::string describe_sharding(const Problem& problem);

/// Every problem of `layout`, in the order of the rules above; empty when it can run (memory
/// aside). With a size below 1 nothing else is checked; the schedule is not checked when there
/// are more stages than layers.
[[nodiscard]] std::vector<Problem> validate(const model::ModelSpec& model, const ValidationTarget& target,
                                            const Layout& layout, const TrainingShape& shape);

/// Whether the layout cannot even be costed (its stages or heads do not divide).
[[nodiscard]] bool blocks_costing(const Problem& problem);

/// Short id for JSON, e.g. "tp_heads".
[[nodiscard]] std::string_view name(ProblemKind kind);

/// What the messages need beside the problem.
struct ProblemContext {
  const model::ModelSpec* model = nullptr;
  TrainingShape shape;
  ValidationTarget target;
  double memory_bytes = 0; ///< per GPU, for out_of_memory
};

/// The constraint a family of layouts breaks, for the search's table of rejections (layouts
/// whose problems read the same are counted together).
[[nodiscard]] std::string describe_family(const Problem& problem, const ProblemContext& context);
/// The constraint `layout` breaks, with its numbers.
[[nodiscard]] std::string describe(const Problem& problem, const ProblemContext& context, const Layout& layout);

} // namespace brix::plan
