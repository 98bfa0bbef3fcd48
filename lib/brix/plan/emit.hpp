#pragma once
// A chosen plan in the words of the framework that will run it.

#include <brix/model/model.hpp>
#include <brix/plan/layout.hpp>

#include <string>
#include <vector>

namespace brix::plan {

struct EmitContext {
  const model::ModelSpec* model = nullptr;
  TrainingShape shape;
  int nodes = 0;
  int gpus_per_node = 0;
  /// Megatron flags for the stage split (megatron_split_flags), after the layout's flags.
  std::vector<std::string> split_flags;
  /// Decoder layers of each pipeline stage as planned (empty: an even split of the layers).
  std::vector<std::int64_t> stage_layers;
  /// The plan was costed with TP collectives overlapped (SoftwareProfile::tp_comm_overlap):
  /// Megatron runs it with --tp-comm-overlap (TransformerEngine userbuffers, sequence parallel).
  bool tp_comm_overlap = false;
  /// The plan was costed with a bf16 gradient buffer (SoftwareProfile::grad_reduce_bytes 2):
  /// Megatron-LM keeps and reduces bf16 gradients only with --grad-reduce-in-bf16 (with --bf16
  /// it otherwise accumulates and all-reduces them in fp32).
  bool grad_reduce_in_bf16 = false;
  /// The plan was costed with FP8 parameter gathers (SoftwareProfile::fp8_param_gather, not for
  /// blockwise recipes): under FP8 with a distributed optimizer or FSDP, Megatron-LM gathers FP8
  /// weights only with --fp8-param-gather.
  bool fp8_param_gather = false;
  /// The FP8 recipe the plan was costed with (SoftwareProfile::fp8_recipe, by Megatron-Core's
  /// --fp8-recipe name: delayed, tensorwise, blockwise, mxfp8). Megatron-LM's default is delayed,
  /// so the flag is always written under FP8.
  std::string fp8_recipe = "delayed";
  /// The plan was costed with the expert dispatch sent once per node and fanned out over NVLink
  /// (SoftwareProfile::hierarchical_all_to_all): Megatron-Core's flex dispatcher with the DeepEP
  /// backend; without it the NCCL all-to-all dispatcher.
  bool hierarchical_dispatch = true;
  /// GPUs on one NVLink domain (0: the node). Past the node (GB200 NVL72's multi-node NVLink)
  /// the node-level dispatch is HybridEP's: DeepEP reaches at most 8 NVLink peers, those of its
  /// node (NUM_MAX_NVL_PEERS, csrc/kernels/configs.cuh), and sends the rest over RDMA, where
  /// HybridEP runs "intra-node communication and MNNVL" (DeepEP hybrid-ep branch,
  /// docs/README_Hybrid-EP.md; Megatron-Core 0.15 --moe-flex-dispatcher-backend hybridep).
  int nvlink_domain = 0;
  /// The plan was costed with the expert all-to-all beside another micro-batch's compute where
  /// Megatron-Core's combined 1F1B takes the layout (SoftwareProfile::overlap_all_to_all,
  /// combined_1f1b_runs): Megatron-LM runs it with --overlap-moe-expert-parallel-comm.
  bool ep_overlap = false;
};

/// What of `layout` Megatron-LM cannot run ("schedule dualpipe", "grad_compression fp8"): it runs
/// 1F1B and interleaved 1F1B, and all-reduces gradients uncompressed. Empty when it runs all.
[[nodiscard]] std::vector<std::string> megatron_unsupported(const Layout& layout);

/// Whether emit_megatron runs `layout` on Megatron-Core's FSDP (--use-custom-fsdp: ZeRO-2 and 3),
/// which asserts CUDA_DEVICE_MAX_CONNECTIONS is not 1 (Megatron's example scripts export 1).
[[nodiscard]] bool megatron_uses_fsdp(const Layout& layout);
/// Whether emit_megatron turns on Megatron-Core's combined-1F1B EP overlap for `layout`: the
/// plan was costed with it (EmitContext::ep_overlap) and Megatron-Core takes the layout. It runs
/// the all-to-all on a stream of its own, which a single hardware queue
/// (CUDA_DEVICE_MAX_CONNECTIONS=1, as Megatron's example scripts export) serialises.
[[nodiscard]] bool megatron_overlaps_experts(const Layout& layout, const EmitContext& context);
/// Megatron-LM command-line flags (one per line, shell-continued), then `#` lines for what they
/// cannot say (reshard=0, the schedules and compression of megatron_unsupported).
[[nodiscard]] std::string emit_megatron(const Layout& layout, const EmitContext& context);
/// A DeepSpeed JSON config (batch, micro-batch, accumulation, ZeRO stage, bf16, activation
/// checkpointing).
[[nodiscard]] std::string emit_deepspeed(const Layout& layout, const EmitContext& context);
/// Whether emit_deepspeed writes `mics_shard_size` (ZeRO-3 hybrid-sharded over several replicas):
/// DeepSpeed's MiCS optimizer then asserts the model was built under deepspeed.zero.MiCS_Init.
[[nodiscard]] bool deepspeed_uses_mics(const Layout& layout);
/// The settings of `layout` a DeepSpeed config cannot express ("tp=8", "precision=fp8", …): they
/// belong in the training script (model parallel groups, MoE layers, pipeline module).
[[nodiscard]] std::vector<std::string> deepspeed_unexpressed(const Layout& layout);
/// A torchrun line that starts Megatron-LM's pretrain_gpt.py with the flags above.
[[nodiscard]] std::string emit_torchrun(const Layout& layout, const EmitContext& context);

} // namespace brix::plan
