#pragma once
// The work of a MoE layer's routed experts beyond the grouped GEMMs' arithmetic: the rows each
// local expert computes (balanced, or padded to a capacity) and what Megatron-Core runs unfused
// around them. Pure functions, used by the layer's time (layer_cost) and memory (memory).

#include <brix/model/model.hpp>
#include <brix/plan/layout.hpp>

namespace brix::plan {

/// Rows each local expert's grouped GEMM takes on one GPU, for `pairs` token-expert pairs this
/// GPU routes per micro-batch over `experts` routed experts: the balanced mean (dropless), or
/// the capacity Megatron-Core pads every expert to (Layout::capacity). `padding`: the token
/// copies sent and computed over the routed ones (1 dropless; C up to rounding when padded).
struct ExpertRows {
  double rows = 0;
  double padding = 1.0;
};
[[nodiscard]] ExpertRows expert_rows_per_gpu(const Layout& layout, double pairs, double experts);

/// What Megatron-Core's grouped experts (TEGroupedMLP; experts.py and fused_bias_geglu.py of
/// core 0.15-0.17, Megatron-Bridge 25.11-26.04) run outside fused kernels, per forward pass on
/// one GPU, for `copies` token copies through `local_experts` experts of `ffn` (per GPU) wide,
/// `mlp_gate` 2 for a gated unit (fc1 twice as wide) and 1 otherwise:
/// - a bias on the second expert GEMM (gpt-oss's down_proj_bias) is added per local expert in a
///   Python loop, `_apply_bias`: torch.cat([t + b * p for each expert's rows]).to(dtype): b·p
///   writes the rows' h elements (2 B), the sum reads both and writes (6 B), the concatenation
///   reads and writes (4 B) = 12 B per element with bf16 routing weights; two launches and two
///   host operators per local expert, and the split, concatenation and cast;
/// - a clamped GLU (gpt-oss, activation_func_clamp_value 7) has its two input halves clamped
///   and concatenated again before the fused activation (weighted_bias_quick_geglu_impl): each
///   fc1 output element read and written by its clamp (2 + 2 B) and by the concatenation (2 + 2 B)
///   = 8 B, 3 launches, 4 host operators (chunk, two clamps, cat); selective recomputation of the
///   activation ("moe_act") repeats it.
struct ExpertEpilogue {
  double bytes = 0;            ///< the bias loop's traffic
  double activation_bytes = 0; ///< the clamp's traffic (part of the activation function)
  double kernels = 0;
  double ops = 0;
};
[[nodiscard]] ExpertEpilogue expert_epilogue(const model::ModelSpec& model, double copies, double local_experts,
                                             double ffn, double mlp_gate);

} // namespace brix::plan
