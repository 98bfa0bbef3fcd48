#pragma once
// Parameter counts, FLOPs per token and KV-cache size of a model: pure functions of ModelSpec.
// Conventions (Narayanan et al. 2021; Korthikanti et al. 2022):
//  - every weight matrix is counted with its bias; norms count weight (+bias for LayerNorm);
//  - FLOPs: 2 per multiply-accumulate for every GEMM with activated parameters; attention scores
//    and attention·V over the full sequence (no causal halving); logits 2·V·h per token.

#include <brix/model/model.hpp>

#include <cstdint>

namespace brix::model {

/// Parameters by kind. `total` and `active` are the main model: the multi-token-prediction
/// module is reported in `mtp` only (DeepSeek-V3: 671B total, 37B activated, MTP on top).
struct ParameterCounts {
  std::int64_t embedding = 0;          ///< token embedding (and OPT's input projection)
  std::int64_t position_embedding = 0; ///< learned position table; 0 for rotary/alibi
  std::int64_t attention = 0;          ///< all attention projections with biases (MLA: incl. up/down)
  std::int64_t dense_mlp = 0;          ///< MLPs of the dense layers
  std::int64_t routed_experts = 0;     ///< all routed experts of all MoE layers
  std::int64_t shared_experts = 0;     ///< shared experts (+ Qwen2-MoE's shared-expert gate)
  std::int64_t router = 0;             ///< gate matrices (+ DeepSeek-V3's score-correction bias)
  std::int64_t norms = 0;              ///< layer norms, final norm, MLA/qk inner norms
  std::int64_t output_head = 0;        ///< untied LM head (0 when tied to the embedding)
  std::int64_t mtp = 0;                ///< MTP modules (their embedding/head are shared, not counted)
  std::int64_t total = 0;              ///< main model
  /// Per token: total minus the routed experts not selected. Embedding and head are included
  /// (Qwen's convention); DeepSeek quotes activated counts without the input embedding (V3:
  /// 37.6B here, 36.6B without it; both within 3% of the published 37B).
  std::int64_t active = 0;
};

/// Parameters of one decoder layer, split the way memory and time need them.
struct LayerParams {
  std::int64_t attention = 0;  ///< projections incl. MLA up/down and biases
  std::int64_t mlp_dense = 0;  ///< dense MLP, or the shared experts of a MoE layer (+ their gate)
  std::int64_t experts = 0;    ///< all routed experts of the layer (0 for a dense layer)
  std::int64_t expert_one = 0; ///< one routed expert
  std::int64_t router = 0;
  std::int64_t norms = 0;      ///< the two layer norms (+ MLA/qk inner norms)
  /// The largest single weight matrix as frameworks store it (fused q/k/v, fused gate+up): what a
  /// ZeRO-3/FSDP implementation gathering per module holds at once.
  std::int64_t largest_matrix = 0;
  [[nodiscard]] std::int64_t total() const {
    return attention + mlp_dense + experts + router + norms;
  }
};

/// FLOPs per token (one sequence position), Megatron convention (see above).
struct FlopsPerToken {
  double forward = 0;        ///< main model forward: GEMMs + attention core + logits
  double training = 0;       ///< 3 × forward (forward + backward, no recomputation)
  /// Narayanan/Korthikanti's published form 72·B·s·l·h²(1 + s/(6h) + V/(16·l·h)) per iteration,
  /// divided by B·s: like `training` but with the logits counted as 4.5·V·h instead of 6·V·h.
  /// Use it to compare MFU/TFLOP/s with the calibration tables, which were computed with it.
  double training_published = 0;
  double attention_core = 0; ///< forward, all layers: q·kᵀ and attention·v (sliding-window layers: s·w)
  double attention_core_per_layer = 0; ///< of a full-attention layer (quadratic in s)
  double logits = 0;         ///< forward, 2·V·h
  double mtp_forward = 0;    ///< MTP modules forward (not in `forward`)
  /// Forward GEMM FLOPs of one layer without the attention core (projections + MLP/experts
  /// activated per token), by layer kind.
  double dense_layer_gemm = 0;
  double moe_layer_gemm = 0;
};

[[nodiscard]] LayerParams layer_parameters(const ModelSpec& model, std::int64_t layer);
/// Every dense layer has the same parameters, and every MoE layer: the per-kind value.
[[nodiscard]] LayerParams layer_parameters_of_kind(const ModelSpec& model, bool moe_layer);
/// MoE layers among decoder layers [first, last] (inclusive), in O(1).
[[nodiscard]] std::int64_t moe_layers_in(const ModelSpec& model, std::int64_t first,
                                         std::int64_t last);
/// The params of one MTP module (DeepSeek-V3: eh_proj + norms + one MoE decoder layer).
[[nodiscard]] std::int64_t mtp_module_parameters(const ModelSpec& model);
[[nodiscard]] ParameterCounts count_parameters(const ModelSpec& model);

/// Forward GEMM FLOPs of decoder layer `layer` per token, without the attention core.
[[nodiscard]] double layer_gemm_flops(const ModelSpec& model, std::int64_t layer);
/// Attention core forward FLOPs per token and full-attention layer at sequence length `seq_len`.
[[nodiscard]] double attention_core_flops(const ModelSpec& model, std::int64_t seq_len);
/// Keys each query of decoder layer `layer` attends to: the whole sequence (the convention
/// above: no causal halving) or, in a sliding-window layer, min(window, s) — that band is
/// already causal, so a cost model that halves full layers for causal masking must not halve it.
[[nodiscard]] std::int64_t attended_keys(const ModelSpec& model, std::int64_t layer, std::int64_t seq_len);
/// Keys a causal query attends to on average over a sequence of `seq` tokens, in a layer with a
/// window of `window` keys (0: full attention): a query at position i sees min(i, w), so with
/// k = min(w, s) the mean is k·(1 − k/(2s)), s/2 for full attention; 0 for an empty sequence.
[[nodiscard]] double causal_attended_keys(double window, double seq);
/// Attention core forward FLOPs per token of decoder layer `layer` (its window applied).
[[nodiscard]] double attention_core_flops(const ModelSpec& model, std::int64_t seq_len, std::int64_t layer);
/// Sliding-window layers among decoder layers [first, last] (inclusive).
[[nodiscard]] std::int64_t sliding_layers_in(const ModelSpec& model, std::int64_t first, std::int64_t last);
[[nodiscard]] FlopsPerToken flops_per_token(const ModelSpec& model, std::int64_t seq_len);

/// KV-cache bytes per token over all layers, averaged over a sequence of `seq_len` tokens (a
/// sliding-window layer holds only its last min(window, seq_len) tokens; rounded to a byte);
/// MLA caches kv_lora_rank + qk_rope_head_dim per layer.
[[nodiscard]] std::int64_t kv_cache_bytes_per_token(const ModelSpec& model, int bytes_per_elem, std::int64_t seq_len);

/// Bytes of the weights as the checkpoint stores them: bf16, the routed experts at
/// `expert_weight_bits` (MXFP4 gpt-oss: 4.25 bits). Embedding, head and the main model; no MTP.
[[nodiscard]] double stored_weight_bytes(const ModelSpec& model);

/// Query/key head size and value head size (MLA: nope+rope and v_head_dim).
[[nodiscard]] std::int64_t qk_head_dim(const ModelSpec& model);
[[nodiscard]] std::int64_t v_head_dim(const ModelSpec& model);

} // namespace brix::model
