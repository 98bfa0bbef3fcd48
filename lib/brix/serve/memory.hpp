#pragma once
// GPU memory of a serving instance: weights by layout and precision, the KV cache per token, and
// the KV pool an engine sizes from what is left — pure functions of the model, the shape and the
// GPU. The engine's rule for the pool comes from its row in engines.hpp.

#include <brix/model/model.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/layout.hpp>

#include <cstdint>

namespace brix::serve {

/// Weights held by the fullest GPU of an instance (the pipeline stage with the most bytes):
/// attention projections split over TP except MLA's down-projections (replicated, as vLLM and
/// SGLang hold them), routed experts over EP (each split over ETP), shared experts and dense
/// MLPs over TP, embedding and head split over TP on the first and last stage, routers, norms,
/// embedding and head in bf16. With `mtp_module`, the MTP layer sits on the last stage.
/// weights=fp4 stores MLP and expert weights in 4 bits and attention as
/// attention_weight_precision says. With `offload` (ServeLayout::offload), the routed experts of
/// the offloaded MoE layers are in host memory: not counted.
[[nodiscard]] double weight_bytes_per_gpu(const model::ModelSpec& model, const InstanceShape& shape,
                                          WeightPrecision precision, bool mtp_module, int offload = 0);

/// Routed-expert weights of one MoE layer on one GPU: its ceil(experts / EP) experts, each split
/// over ETP. What an offloaded layer copies in from host memory per forward.
[[nodiscard]] double expert_bytes_per_gpu(const model::ModelSpec& model, const InstanceShape& shape,
                                          WeightPrecision precision);

/// Whether layer `layer` (0-based) has its routed experts in host memory under offload = `offload`:
/// a MoE layer that is the last of its group of `offload` (the offloader's groups count every
/// layer, its whitelist moves only the experts' weights).
[[nodiscard]] bool offloaded_layer(const model::ModelSpec& model, std::int64_t layer, int offload);
/// How many of layers first..last (0-based, inclusive) are offloaded_layer.
[[nodiscard]] std::int64_t offloaded_layers_in(const model::ModelSpec& model, std::int64_t first, std::int64_t last,
                                               int offload);

/// The format of the attention projections when the layout's weights are `precision`: weights=fp4
/// keeps them in FP8 for NVFP4 (ModelOpt's recipes for DeepSeek-R1) and in bf16 for an MXFP4
/// checkpoint (gpt-oss's quantization_config lists self_attn in modules_to_not_convert: only the
/// MoE experts are MXFP4, attention and the rest stay bf16, as vLLM's gpt-oss post says).
[[nodiscard]] WeightPrecision attention_weight_precision(const model::ModelSpec& model, WeightPrecision precision);

/// Attention projection parameters one TP rank holds: MLA's down-projections (q_a, kv_a) whole,
/// its up- and output projections split; GQA's query and output projections split, its K/V
/// projections split until each rank has one KV head.
[[nodiscard]] double attention_params_per_gpu(const model::ModelSpec& model, int tp);

/// KV-cache bytes per token on one GPU of an instance: the layers of its stage, MLA's latent
/// (kv_lora_rank + qk_rope_head_dim) whole on every TP rank, GQA's KV heads split over TP (one
/// head per GPU when TP exceeds them). Sliding-window layers count at what they hold per token of
/// a 128K context, or at a full layer's bytes when `windows_pooled_full` (the engine pools them so).
[[nodiscard]] double kv_bytes_per_token_per_gpu(const model::ModelSpec& model, const InstanceShape& shape,
                                                KvPrecision precision, bool windows_pooled_full = false);

/// KV-cache bytes one token adds to one full-attention layer's cache on one GPU of a TP group:
/// what an attention kernel reads per cached token and layer (a sliding-window layer reads at
/// most its window of them).
[[nodiscard]] double kv_bytes_per_token_per_layer(const model::ModelSpec& model, int tp, KvPrecision precision);

/// KV-cache bytes of one token over the whole model (all layers, every head once): what a
/// disaggregated plan moves from prefill to decode.
[[nodiscard]] double kv_bytes_per_token_model(const model::ModelSpec& model, KvPrecision precision);

/// Peak activation memory of a forward over `batched_tokens` tokens (the engine's chunked-prefill
/// budget) with `max_sequences` sequences sampling logits, on one GPU.
[[nodiscard]] double activation_bytes(const model::ModelSpec& model, const InstanceShape& shape,
                                      std::int64_t batched_tokens, std::int64_t max_sequences);

/// Memory of one GPU of an instance, bytes.
struct GpuMemory {
  double total = 0;       ///< what the driver reports
  double weights = 0;
  double kv_cache = 0;    ///< the KV pool (0 when nothing is left for it)
  double activations = 0;
  double other = 0;       ///< CUDA context, CUDA graphs, NCCL and all-to-all buffers, allocator slack
  double memory_fraction = 0; ///< the engine flag's value (--gpu-memory-utilization, --mem-fraction-static, ...)
};

/// The dimensions of the MLA matrices an engine absorbs at load time on one of `tp` ranks
/// (EngineVersion::mla_absorbed_weights, vLLM 0.7): W_Q_UK is q_in x (heads x latent), W_UV_O
/// (heads x latent) x hidden, W_QR q_in x (heads x rope); W_UK and W_UV together latent x heads x
/// nope_and_v. One source for the memory they take and the decode GEMMs that read them.
struct AbsorbedMla {
  double hidden = 0;
  double heads = 0;      ///< heads on this rank
  double latent = 0;     ///< kv LoRA rank
  double q_in = 0;       ///< q LoRA rank, or hidden without q compression
  double rope = 0;       ///< rope part of a query/key head
  double nope_and_v = 0; ///< non-rope query/key part plus the value head
};
[[nodiscard]] AbsorbedMla absorbed_mla(const model::ModelSpec& model, int tp);

/// Bytes per GPU (fullest stage) of the absorbed MLA matrices an engine materializes beside the
/// checkpoint's (EngineVersion::mla_absorbed_weights, vLLM 0.7); kv_pool counts them as weights.
[[nodiscard]] double absorbed_mla_bytes_per_gpu(const model::ModelSpec& model, const InstanceShape& shape,
                                                WeightPrecision precision);

/// The KV pool of one instance as `engine` sizes it: GPU memory, the tokens the instance holds
/// (every attention-DP rank holds its own sequences), and whether the weights fit at all.
/// `batched_tokens` is the chunked-prefill budget and `max_sequences` the running sequences per
/// DP rank the engine is started with (both size the activation peak).
struct KvPool {
  GpuMemory memory;
  double kv_bytes_per_token = 0;     ///< per GPU
  std::int64_t tokens = 0;           ///< per instance
  bool weights_fit = false;
};
[[nodiscard]] KvPool kv_pool(const model::ModelSpec& model, const InstanceShape& shape, WeightPrecision weights,
                             KvPrecision kv, bool mtp_module, double gpu_memory_bytes, const EngineVersion& engine,
                             std::int64_t batched_tokens, std::int64_t max_sequences, int offload = 0);

} // namespace brix::serve
