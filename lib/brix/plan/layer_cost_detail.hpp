#pragma once
// Internals shared by the cost of a decoder layer (layer_cost.cpp), its attention projections and
// core (layer_attention.cpp) and the pipeline's ends (embedding_head_cost.cpp): the GEMM
// accumulator and the attention block's shapes.

#include <brix/plan/layer_cost.hpp>

namespace brix::plan::detail {

inline double act_bytes(const Layout& layout) { return layout.precision == Precision::fp8 ? 1.0 : 2.0; }

// FP8 GEMMs take FP8 inputs: every bf16 activation entering one is quantised in forward, and
// so is every incoming gradient in backward, each into the row-wise copy its GEMM reads and the
// column-wise copy the weight-gradient GEMM reads; the recipe's work per element and its kernel
// launches are fp8_quantisation_cost() (physics.hpp). Weights are quantised once per step.

/// Sums a GEMM's forward time and FLOPs (and, in FP8, the quantisation of its inputs).
struct Gemms {
  const DeviceModel& device;
  double bytes;
  Fp8QuantisationCost quantisation;
  double seconds = 0;
  double flops = 0;
  double cast_forward_bytes = 0;  ///< FP8 casts of activations entering the GEMMs
  double cast_backward_bytes = 0; ///< FP8 casts of the gradients entering their backward GEMMs
  double cast_forward_kernels = 0;  ///< quantisation launches in forward
  double cast_backward_kernels = 0; ///< and in backward
  /// Each add() is one grouped kernel over `count` experts whose rows vary around m (ragged
  /// unless every expert is padded to its capacity); else `count` separate GEMMs.
  bool grouped = false;
  bool ragged = false;
  /// A grouped operand is quantised by TransformerEngine's split_quantize, per expert slice as the
  /// recipe launches it (Fp8QuantisationCost::split_kernels_per_*); else as one tensor.
  bool split_quantize = false;
  void add(double m, double n, double k, double count = 1.0) { add_gemm(m, n, k, count, false); }
  /// A GEMM whose input is a norm's output (QKV, FC1, MLA's up-projections after their q/kv
  /// norms: Megatron-Core's TELayerNormColumnParallelLinear): the norm kernel writes it quantised where the recipe lets it
  /// (Fp8QuantisationCost::fused_into_norm), and no forward cast pass runs.
  void add_after_norm(double m, double n, double k) { add_gemm(m, n, k, 1.0, true); }

private:
  void add_gemm(double m, double n, double k, double count, bool after_norm) {
    if (m <= 0 || n <= 0 || k <= 0 || count <= 0) {
      return;
    }
    seconds += grouped ? gemm_seconds(device, GemmShape{m, n, k, count, ragged}, bytes)
                       : count * gemm_seconds(device, m, n, k, bytes);
    flops += count * 2.0 * m * n * k;
    if (bytes < 2.0) {
      const double kernels = grouped && split_quantize ? quantisation.split_kernels_per_call +
                                                             count * quantisation.split_kernels_per_expert
                                                       : quantisation.kernels;
      if (!(after_norm && quantisation.fused_into_norm)) {
        cast_forward_bytes += count * m * k * quantisation.bytes_per_element;
        cast_forward_kernels += kernels;
      }
      cast_backward_bytes += count * m * n * quantisation.bytes_per_element;
      cast_backward_kernels += kernels;
    }
  }
};

struct AttentionShape {
  double q_heads = 0;  ///< heads on this TP rank
  double qk_dim = 0;   ///< per-head q/k size
  double v_dim = 0;    ///< per-head v size
  double kv_exchange = 0; ///< K+V elements per token this rank exchanges under CP
  double up_projection_s = 0; ///< MLA's q and kv up-projections (what selective recomputation repeats)
};

/// Attention projections (GEMMs) for `tokens` rows; returns the core's shape.
[[nodiscard]] AttentionShape attention_gemms(const model::ModelSpec& model, const Layout& layout, double tokens,
                                             Gemms& gemms);

/// Keys a query attends to, averaged over the decoder layers: the whole sequence, or a sliding
/// window of w keys (gpt-oss alternates 128-key windows with full layers). `counted` is what the
/// FLOP count uses (s, or w: the score matrix a kernel would compute without the causal skip);
/// `causal` what a causal kernel executes: a query at position i attends min(i, w) keys, on
/// average w·(1 − w/(2s)), s/2 for full attention.
struct AttendedKeys {
  double counted = 0;
  double causal = 0;
};

[[nodiscard]] AttendedKeys attended_keys(const model::ModelSpec& model, double seq);

/// HBM bytes and kernels of torch's ring attention around its sub-SDPA calls on the busiest rank
/// (the last, whose every later step uses the whole local query), per layer pass.
struct TorchRingMerges {
  double forward = 0;
  double backward = 0;
  double forward_kernels = 0;
  double backward_kernels = 0;
};

/// `out` output elements, `query` query elements and `kv` K plus V elements on this rank.
[[nodiscard]] TorchRingMerges torch_ring_merge_bytes(double out, double query, double kv, int cp);

} // namespace brix::plan::detail
