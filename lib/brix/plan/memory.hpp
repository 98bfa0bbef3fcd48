#pragma once
// Per-GPU memory of one parallel layout, per pipeline stage: model states (weights, gradients,
// optimizer), activations (Korthikanti et al. 2022, generalised to GQA, MLA, MoE, flash
// attention, fp8), pipeline in-flight micro-batches, communication buffers, CUDA context and an
// allocator reserve. Pure and allocation-free (except uniform_stages returning a vector): the
// planner's search calls these millions of times.
//
// Model states (Megatron mixed precision with Adam): bf16 weights 2 B/param, fp32 gradients
// 4 B/param, fp32 master weights + Adam m and v 12 B/param = 18 B/param. The gradient bytes are
// SoftwareProfile::grad_reduce_bytes: the buffer the DP group reduces, fp32 by default (Megatron-
// Core's grad_reduce_in_fp32), 2 B where the run reduces bf16 (--grad-reduce-in-bf16, 16 B/param
// in all). ZeRO-1 (Megatron's
// distributed optimizer) shards the 12 B over the data-parallel group (6 + 12/d), ZeRO-2 also
// the gradients, ZeRO-3 also the weights. Dense parameters are split over TP and sharded over
// d = dp·cp; routed experts are split over EP·ETP and sharded over expert-DP = tp·dp·cp/(ep·etp).
// Hybrid sharding (shard=N) shards over N·cp and expert-DP/(dp/N) instead; reshard=0 (FSDP's
// reshard_after_forward=False) holds the stage's gathered bf16 weights from forward to backward.
//
// fp8 (Transformer Engine recipe): the saved inputs of linear layers are kept in FP8 (1 B instead
// of 2), norm inputs, softmax/activation-function tensors stay 16-bit; the weights gain a cached
// FP8 copy (+1 B/param), master weights, gradients and optimizer states are unchanged.

#include <brix/cluster/cluster.hpp>
#include <brix/model/model.hpp>
#include <brix/plan/batch_split.hpp>
#include <brix/plan/layout.hpp>
#include <brix/plan/pipeline_split.hpp>
#include <brix/plan/physics.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace brix::plan {

/// Decoder layers [first_layer, last_layer] (inclusive, as in plan.yaml) of one pipeline stage.
struct StageSpan {
  int first_layer = 0;
  int last_layer = -1;
  bool embedding = false; ///< holds the token (and position) embedding: the first stage
  bool head = false;      ///< holds the final norm, the LM head and the MTP modules: the last stage
  [[nodiscard]] int layers() const { return last_layer - first_layer + 1; }
};

/// Stage `stage_index` of Megatron's split of the decoder layers over `split.stages` pipeline
/// stages (1 <= stages <= layers), the embedding and loss counted as layers when the split says
/// so (plan/pipeline_split.hpp has the rule). O(1).
[[nodiscard]] StageSpan uniform_stage(const model::ModelSpec& model, const PipelineSplit& split, int stage_index);
/// The same with neither the embedding nor the loss counted.
[[nodiscard]] StageSpan uniform_stage(const model::ModelSpec& model, int pp, int stage_index);
/// All stages into `out` (out.size() >= stages), no allocation.
void uniform_stages(const model::ModelSpec& model, const PipelineSplit& split, std::span<StageSpan> out);
void uniform_stages(const model::ModelSpec& model, int pp, std::span<StageSpan> out);
[[nodiscard]] std::vector<StageSpan> uniform_stages(const model::ModelSpec& model, const PipelineSplit& split);
[[nodiscard]] std::vector<StageSpan> uniform_stages(const model::ModelSpec& model, int pp);
/// The physical stages of `layout`: pp of them, with its pp_embedding and pp_loss.
[[nodiscard]] PipelineSplit pipeline_split(const Layout& layout);

/// Activation bytes of one decoder layer for ONE micro-batch on one GPU, with the TP/SP/CP
/// division and precision of `layout` applied and no recomputation (a recompute policy picks
/// which components stay stored: stored_activation_bytes). Korthikanti's dense GPT layer with
/// dropout and no flash is 34·s·b·h + 5·a·s²·b bytes; the components below split it as
/// layer_input 2 + norms 2 + attention_projections 5 + attention_core 6 + mlp 19 (× s·b·h) and
/// attention_scores 5·a·s²·b.
struct LayerActivations {
  double layer_input = 0;           ///< the layer's input (first norm's input); what full recompute keeps
  double norms = 0;                 ///< other norm inputs: pre-MLP norm, qk-norm, MLA latent norms
  double attention_projections = 0; ///< saved inputs of q/k/v (MLA down/up) and output projections, dropout mask
  double attention_core = 0;        ///< q, k, v saved for scores and attention·v (+ flash softmax statistics)
  double attention_scores = 0;      ///< softmax output (+ dropout mask and output): 0 with flash attention
  double mlp = 0;                   ///< dense MLP, or MoE shared experts + router + dispatch input
  double experts = 0;               ///< routed experts on this GPU: k copies per token, balanced routing
  /// What selective recomputation drops (part of the above): without flash attention the scores
  /// (Megatron 2022); with it, what Megatron-Core's selective modules recompute cheaply — norm
  /// outputs, MLA's up-projected q/k/v (from the kept latents) and activation-function outputs.
  double selective_recomputed = 0;
  /// What recomputing the whole MLP block (dense MLP or MoE layer) drops beyond
  /// selective_recomputed: the block keeps only its bf16 input.
  double mlp_block_recomputed = 0;
  [[nodiscard]] double total() const {
    return layer_input + norms + attention_projections + attention_core + attention_scores + mlp +
           experts;
  }
};

[[nodiscard]] LayerActivations layer_activation_bytes(const model::ModelSpec& model,
                                                      const Layout& layout,
                                                      const TrainingShape& shape,
                                                      std::int64_t layer);

/// The same for any dense (moe_layer false) or MoE layer: all layers of one kind are alike.
/// `software` says how the framework stores what it keeps (DeepSeek's FP8 SwiGLU-input cache).
[[nodiscard]] LayerActivations layer_activation_bytes_of_kind(const model::ModelSpec& model,
                                                              const Layout& layout,
                                                              const TrainingShape& shape,
                                                              bool moe_layer,
                                                              const SoftwareProfile& software = SoftwareProfile{});

/// Bytes kept between forward and backward under a uniform recompute policy: none keeps all,
/// selective drops selective_recomputed, selective_mlp also mlp_block_recomputed, full keeps
/// layer_input.
[[nodiscard]] double stored_activation_bytes(const LayerActivations& layer, Recompute recompute);


/// Micro-batches whose activations stage `stage_index` holds at its peak, in units of the
/// stage's whole layer span: 1F1B and ZB-H1 min(m, pp − stage); interleaved (Megatron warm-up)
/// min(m·v, 2·(pp − stage − 1) + (v − 1)·pp + 1) chunks of 1/v of the span (stage 0:
/// pp·(1 + (pp−1)/(pp·v)), Korthikanti's figure); DualPipe pp + 1.
/// `extra_chunks` more in the interleaved warm-up (overlap_warmup_chunks).
[[nodiscard]] double in_flight_micro_batches(const Layout& layout, const TrainingShape& shape,
                                             int stage_index, int extra_chunks = 0);
/// The same for the stage holding `span`, counted chunk by chunk: under the interleaved
/// schedule the chunk where the embedding or the loss takes a layer's place (pp_embedding,
/// pp_loss) holds one layer fewer, so the first stage holds fewer layers' activations than the
/// uniform count says and the last stage more (its head-only chunk is the one barely in flight).
[[nodiscard]] double in_flight_micro_batches(const Layout& layout, const TrainingShape& shape,
                                             int stage_index, const StageSpan& span, int extra_chunks = 0);

/// Virtual micro-batches the interleaved warm-up runs beyond Megatron's count: 1 where the
/// expert all-to-all overlaps compute in Megatron-Core's combined 1F1B (an MoE model,
/// SoftwareProfile::overlap_all_to_all, a layout combined_1f1b_runs takes, interleaved schedule). Megatron-LM
/// megatron/core/pipeline_parallel/schedules.py get_pp_rank_microbatches (00611e6e): "When
/// enabling overlap_moe_expert_parallel_comm, we schedule one extra micro-batch forward step
/// before the 1f1b stages", `num_warmup_microbatches + 1`, so every 1F1B step pairs a forward
/// and a backward of different micro-batches and one more chunk's activations stay in flight.
[[nodiscard]] int overlap_warmup_chunks(const model::ModelSpec& model, const Layout& layout,
                                        const SoftwareProfile& software);

/// Bytes of one GPU of one pipeline stage.
struct StageMemory {
  double weights = 0;     ///< bf16 weights (+ fp8 copies, + ZeRO-3 gathered matrices)
  double grads = 0;       ///< fp32 gradients
  double optimizer = 0;   ///< fp32 master weights + Adam m, v
  double activations = 0; ///< in-flight micro-batches × stored bytes (+ full-recompute working layer)
  double other = 0;       ///< comm_buffers + cuda_context + allocator_reserve
  double total = 0;
  // Breakdown.
  double params = 0;                 ///< parameters held by this GPU (before ZeRO sharding)
  double expert_params = 0;          ///< of which routed experts
  double activations_per_micro_batch = 0; ///< stored bytes of the span for one micro-batch
  double in_flight = 0;              ///< in_flight_micro_batches()
  double comm_buffers = 0;           ///< NCCL buffers per process group + p2p + MoE all-to-all
  double cuda_context = 0;           ///< CUDA context, kernels, cuBLAS workspaces
  double allocator_reserve = 0;      ///< caching-allocator fragmentation
  double capacity = 0;               ///< the GPU's memory
  [[nodiscard]] bool fits() const { return total <= capacity; }
};

/// Fixed costs in `other`, documented: NCCL reserves NCCL_BUFFSIZE (4 MiB) per channel and peer
/// direction; ~200 MiB per process group of size > 1 is what nvidia-smi shows per communicator
/// on DGX nodes. The CUDA context with PyTorch kernels and cuBLAS/cuDNN workspaces takes
/// 0.6–1 GiB. The PyTorch caching allocator keeps 3–10% above the live peak; we reserve 5%.
inline constexpr double k_nccl_bytes_per_group = 200.0 * 1024 * 1024;
inline constexpr double k_cuda_context_bytes = 0.75 * 1024 * 1024 * 1024;
inline constexpr double k_allocator_reserve_fraction = 0.05;

/// Model-state bytes per parameter before any sharding: bf16 weights (2), fp32 master weights
/// and Adam's two moments (12), and the gradient buffer in `grad_bytes` (4 at fp32: 18 B/param).
[[nodiscard]] constexpr double model_state_bytes_per_param(double grad_bytes) { return 14.0 + grad_bytes; }

/// Memory of stage `stage_index` (0-based) holding `span`. Expects a layout validate() accepts.
/// `software` says how the framework keeps model states (FSDP's fp32 shards).
[[nodiscard]] StageMemory stage_memory(const model::ModelSpec& model, const cluster::GpuSpec& gpu,
                                       const Layout& layout, const TrainingShape& shape,
                                       int stage_index, const StageSpan& span,
                                       const SoftwareProfile& software = SoftwareProfile{});

/// The stage with the largest total under a uniform split (no allocation).
struct PipelineMemoryPeak {
  int stage = 0;
  StageMemory memory;
};
[[nodiscard]] PipelineMemoryPeak peak_stage_memory(const model::ModelSpec& model,
                                                   const cluster::GpuSpec& gpu,
                                                   const Layout& layout,
                                                   const TrainingShape& shape);

} // namespace brix::plan
