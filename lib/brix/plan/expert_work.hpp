#pragma once
// The work of a MoE layer's routed experts beyond the grouped GEMMs' arithmetic: the rows each
// local expert computes (balanced, or padded to a capacity) and what Megatron-Core and NeMo
// AutoModel run unfused around them. Pure functions, used by the layer's time (layer_cost) and memory (memory).

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
  double bytes = 0;            ///< the bias loop's traffic, forward
  double backward_bytes = 0;   ///< the bias loop's traffic, backward
  double activation_bytes = 0; ///< the clamp's traffic (part of the activation function)
  double kernels = 0;          ///< the bias loop's kernels, forward
  double backward_kernels = 0; ///< the bias loop's kernels, backward
  double ops = 0;
};
[[nodiscard]] ExpertEpilogue expert_epilogue(const model::ModelSpec& model, double copies, double local_experts,
                                             double ffn, double mlp_gate);

/// NeMo AutoModel's GroupedExpertsDeepEP (SoftwareProfile::expert_bias_loops), per pass on one
/// GPU for `copies` token copies through `local_experts` experts `ffn` wide, on a model with
/// expert biases (gpt-oss): `_apply_bias` runs after each grouped GEMM (layers.py at 89e3a9fdd
/// and 2c236e081):
/// - fc1 (mlp_gate·ffn wide, bf16): `torch.cat([t + b for ...])`: the sum reads and writes
///   (2 + 2 B), the concatenation reads and writes (2 + 2 B) = 8 B per element forward; backward
///   sums each expert's gradient rows for its bias (2 B) and concatenates the split's gradients
///   (2 + 2 B) = 6 B;
/// - fc2 (hidden wide): `torch.cat([t + b * p for ...]).to(value.dtype)` with p the permuted
///   routing probabilities, float32 ('DeepEP only supports float32 probs', components/moe/
///   megatron/token_dispatcher.py at 2c236e081): b·p writes float32 (4 B), t + b·p reads 2 + 4
///   and writes 4 B, the concatenation reads and writes 4 + 4 B, the cast reads 4 and writes
///   2 B = 28 B forward; backward casts the gradient up (2 + 4 B) and down for t (4 + 2 B),
///   multiplies it by p for b's gradient (4 + 4 B) and sums it (4 B), and concatenates the
///   split's gradients (2 + 2 B) = 28 B (the probabilities of the fake balanced gate, a constant,
///   get no gradient).
/// Kernels: one add per local expert (fc1), a multiply and an add per local expert (fc2), two
/// concatenations and the cast: 3·L + 3 forward; backward a reduction per expert (fc1), a cast,
/// multiply and reduction per expert (fc2), the up-cast and the two concatenations: 4·L + 3.
/// Host operators: the three splits, the 3·L per-expert operators, two concatenations and two
/// casts: 3·L + 7.
[[nodiscard]] ExpertEpilogue expert_bias_loops(const model::ModelSpec& model, double copies, double local_experts,
                                               double ffn, double mlp_gate);

} // namespace brix::plan
