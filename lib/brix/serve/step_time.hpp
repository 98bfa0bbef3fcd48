#pragma once
// The time of one engine step, from first principles: every layer is a few groups of kernels,
// each taking the longest of its HBM traffic, its arithmetic at an achievable fraction of peak,
// and its kernels' minimum duration; then the collectives (TP all-reduce, EP dispatch/combine,
// pipeline sends), hidden behind compute when two micro-batches overlap.
//  - Decode is memory-bound at small batch: weights read once per step (for MoE layers only the
//    experts the batch activates), the KV cache read once per sequence.
//  - Prefill is compute-bound: GEMMs over the chunk's tokens and causal attention, quadratic in
//    the prompt length.

#include <brix/model/model.hpp>
#include <brix/serve/device.hpp>
#include <brix/serve/layout.hpp>

namespace brix::serve {

/// Seconds of one step, and where they go (each kernel group's time is booked to the term that
/// bounds it; collectives only where they are not hidden).
struct StepCost {
  double seconds = 0;
  double weights_s = 0;     ///< memory-bound projections/MLPs: weights and their activations from HBM
  double kv_s = 0;          ///< reading the KV cache
  double gemm_s = 0;        ///< compute-bound GEMMs (projections, MLPs, experts)
  double attention_s = 0;   ///< attention arithmetic
  double collectives_s = 0; ///< TP all-reduce, EP all-to-all, pipeline sends
  double floors_s = 0;      ///< kernels at their minimum duration (launch-bound), or the host launching them
  double kernels = 0;       ///< kernel launches (with collectives), what an eager step's host time counts
  StepCost& operator+=(const StepCost& other);
};
[[nodiscard]] StepCost operator*(const StepCost& cost, double times);

/// What a step is costed on: the model, the GPU and links, the instance shape and its formats.
struct StepContext {
  const model::ModelSpec* model = nullptr;
  const ServeDevice* device = nullptr;
  InstanceShape shape;
  WeightPrecision weights = WeightPrecision::bf16;
  KvPrecision kv = KvPrecision::bf16;
  bool overlap = false; ///< MoE all-to-all overlapped with the other micro-batch's compute
  /// Kernels replayed from CUDA graphs; false: launched one by one from eager PyTorch, so a
  /// stage's step takes at least kernels × ServeDevice::eager_launch_s of host time.
  bool cuda_graphs = true;
  /// Block-scaled FP8/FP4 GEMMs on early Triton kernels, at ServeDevice::triton_block_scaled_fraction
  /// of the rate the device model gives DeepGEMM-class kernels.
  bool triton_block_fp8 = false;
  /// MLA decode over an FP8 KV cache multiplies in FP8 where the device has such a kernel
  /// (ServeDevice::mla_decode_fp8_mma_fraction); false: dequantized to bf16.
  bool fp8_mla_mma = false;
  /// EngineVersion::mla_absorbed_weights: MLA decode reads the materialized absorbed matrices
  /// (W_Q_UK, W_UV_O) instead of the q up-, kv up- and output projections.
  bool mla_absorbed_weights = false;
  /// EngineVersion::mla_glue_kernels: more kernels per MLA layer beside the norms.
  int mla_glue_kernels = 0;
  /// EngineVersion::cuda_graph_max_tokens: a step of more tokens per rank than this is launched
  /// from the host as if cuda_graphs were false (0: every step replays a graph).
  double cuda_graph_max_tokens = 0;
  /// EngineVersion::overlap_reserves_comm_sms: under overlap, prefill's GEMMs run on the SMs the
  /// high-throughput all-to-all leaves, for the whole micro-batched forward.
  bool overlap_reserves_comm_sms = false;
  /// EngineVersion::overlap_min_decode_tokens / overlap_min_prefill_tokens: a step at or below
  /// them per rank runs as one batch, its all-to-all not overlapped.
  double overlap_min_decode_tokens = 0;
  double overlap_min_prefill_tokens = 0;
  /// Share of the SMs the GEMMs run on: 1, except where the step model costs a layer under the
  /// cap above.
  double gemm_sm_share = 1.0;
  /// Host work each decode step waits for (EngineVersion::serial_host_step_s and
  /// serial_host_per_sequence_s where the engine runs it serially; 0 where it overlaps).
  double host_step_s = 0;
  double host_per_sequence_s = 0;
  /// ServeLayout::offload: an offloaded layer's experts are copied in from host memory while the
  /// offload − 1 layers before it run; what they do not hide stalls the step (booked as weights).
  int offload = 0;
  /// Prefill: tokens before each prompt's computed part that its KV cache already holds (prefix
  /// cache hits, Workload::cached_tokens). The computed tokens attend to them; nothing else of
  /// theirs is computed or written, except MLA's latents, up-projected again for that attention.
  double cached_prefix = 0;
};

/// One decode step of a whole instance: `batch` sequences per attention-DP rank, each with
/// `context` tokens in the KV cache, verifying 1 + `mtp` tokens each and then drafting `mtp`
/// tokens with the model's MTP module. With PP the batch is split into one micro-batch per
/// stage, so a step is PP stage-steps at batch / PP. Host work the engine runs serially adds
/// host_step_s + host_per_sequence_s × batch to the step (booked as floors).
[[nodiscard]] StepCost decode_step(const StepContext& context, double batch, double context_tokens, int mtp);

/// One prefill step of a whole instance: `tokens` new tokens per attention-DP rank (the chunk),
/// from prompts of `prompt` computed tokens (each after context.cached_prefix cached ones).
/// Returns the latency of the chunk through every stage; with PP, chunks follow each other one
/// stage apart, so the rate is `tokens` × dp per stage time (prefill_stage_seconds).
[[nodiscard]] StepCost prefill_step(const StepContext& context, double tokens, double prompt);
[[nodiscard]] double prefill_stage_seconds(const StepContext& context, double tokens, double prompt);

/// Tokens a sequence gains per decode step with `mtp` drafted tokens each accepted with
/// probability `acceptance` given the previous was (a chain: 1 + a + a² + … + a^mtp).
[[nodiscard]] double tokens_per_step(int mtp, double acceptance);
/// The per-draft acceptance that gives `length` tokens per step with `mtp` drafts (the inverse
/// of tokens_per_step, for publications that report acceptance length).
[[nodiscard]] double acceptance_for_length(int mtp, double length);

} // namespace brix::serve
