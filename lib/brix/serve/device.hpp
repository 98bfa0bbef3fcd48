#pragma once
// What a serving step can get out of one GPU and its links: achievable HBM streaming bandwidth,
// tensor-core peaks and fractions, the shortest a kernel takes, and the latency and bandwidth of
// the small collectives decode runs every layer. Built on the training planner's device model
// (plan/physics.hpp) for bandwidths and GEMM fractions; the serving-only figures are constants in
// device.cpp, each from a public microbenchmark, shared by every model and layout.

#include <brix/cluster/cluster.hpp>
#include <brix/serve/layout.hpp>

#include <string>

namespace brix::serve {

/// The arithmetic a GEMM runs in.
enum class ComputePrecision { bf16, fp8, fp4 };

struct ServeDevice {
  std::string gpu;              ///< display name
  double memory_bytes = 0;
  double hbm_bytes_per_s = 0;   ///< achievable by streaming kernels (paged/latent attention, elementwise)
  double gemm_hbm_bytes_per_s = 0; ///< achievable by small-M GEMMs streaming their weights (decode)
  double bf16_flops = 0;
  double fp8_flops = 0;         ///< 0: no FP8 tensor cores
  double fp4_flops = 0;         ///< 0: no FP4 tensor cores
  double gemm_fraction = 0;     ///< of peak, large GEMMs (cuBLAS, DeepGEMM, CUTLASS)
  int sms = 0;                  ///< streaming multiprocessors (plan::gemm_shape_efficiency's waves)
  double tile_ramp_k = 128;     ///< a GEMM tile's prologue and epilogue in K-depth (plan::gemm_tile_ramp_k)
  /// Share of gemm_fraction that FP8/FP4 GEMMs keep against their own peak inside a whole
  /// model's step: the training planner's plan::fp8_gemm_share (Hopper 0.85, Blackwell 0.75),
  /// the one figure brix has for the same GEMMs run end to end.
  double low_precision_gemm_share = 1;
  /// FP8/FP4 GEMMs with fine-grained (per-block) scales: the reduction length at which half the
  /// per-tile fixed work (pipeline fill, scale promotion, the epilogue's output write) is
  /// amortized; they reach k / (k + this) of their long-K rate.
  double block_scaled_k_knee = 0;
  /// Of that rate, what the early-2025 Triton block-FP8 kernels (vLLM/SGLang w8a8_block_fp8_matmul,
  /// fused_moe) reach.
  double triton_block_scaled_fraction = 1;
  double attention_fraction = 0;///< of bf16 peak, fused attention forward (FlashAttention-3, FlashMLA)
  /// Of bf16 peak, absorbed MLA decode attention (the latent read once for all heads) over a
  /// bf16 and over an FP8 KV cache (dequantized before the bf16 MMA).
  double mla_decode_fraction = 0;
  double mla_decode_fp8_kv_fraction = 0;
  /// Of bf16 peak, MLA decode over an FP8 KV cache by kernels that multiply in FP8 (Blackwell:
  /// twice the bf16 rate at the bf16 kernel's share of peak); 0 where no such kernel is known.
  double mla_decode_fp8_mma_fraction = 0;
  double kernel_floor_s = 0;    ///< the shortest a kernel takes in a CUDA-graph replay
  double eager_launch_s = 0;    ///< host time to launch one kernel from eager PyTorch (no CUDA graph)
  int gpus_per_node = 0;
  int nvlink_domain = 0;        ///< GPUs on one NVLink/NVSwitch domain
  double intra_busbw = 0;       ///< all-reduce bus bandwidth inside the domain, bytes/s
  double inter_bytes_per_s = 0; ///< per GPU between domains, bytes/s (adapters × line rate × achievable)
  double ring_fraction = 1;     ///< left by the network shape for ring traffic
  double a2a_fraction = 1;      ///< left for all-to-all's cross-rail traffic
  double intra_latency_s = 0;   ///< small all-reduce inside the domain (custom one-shot kernels)
  double inter_latency_s = 0;   ///< small collective step across domains (NCCL over RDMA)
  double a2a_latency_s = 0;     ///< one low-latency dispatch or combine (DeepEP-style)
  /// DeepEP's kernels run here (plan::runs_node_level_dispatch): expert parallelism exchanges
  /// tokens through them; without them the engines gather every DP rank's tokens and
  /// reduce-scatter the outputs (vLLM's default allgather_reducescatter, SGLang's without DeepEP).
  bool deepep = true;
  double host_to_device_bytes_per_s = 0; ///< host memory to this GPU, one direction (offloaded weights)

  /// Peak of `precision`, falling back to the nearest wider one the GPU has.
  [[nodiscard]] double peak(ComputePrecision precision) const;
};

[[nodiscard]] ServeDevice serve_device(const cluster::NodeGroup& group, cluster::NetworkShape shape,
                                       double oversubscription);

/// The arithmetic of a GEMM whose weights are stored at `weights`: FP8 and FP4 weights run in
/// their own precision where the GPU has it; else FP8 dequantizes to bf16, and FP4 runs
/// weight-only in bf16 (4-bit weights streamed, bf16 MMA).
[[nodiscard]] ComputePrecision compute_precision(WeightPrecision weights, const ServeDevice& device);

/// How a collective's ranks sit on NVLink domains.
struct Placement {
  int ranks = 1;
  int per_domain = 1; ///< ranks of the group on one NVLink domain
  [[nodiscard]] bool crosses_domains() const { return ranks > per_domain; }
};
/// Placement of `ranks` consecutive GPUs of an instance.
[[nodiscard]] Placement placement(const ServeDevice& device, int ranks);

/// All-reduce of `bytes` per rank (decode's TP reductions: latency first, then bandwidth).
[[nodiscard]] double all_reduce_seconds(const ServeDevice& device, double bytes, const Placement& where);
/// One all-to-all (a dispatch or a combine) sending `bytes` from every rank, spread evenly over
/// the group's ranks: the off-domain share crosses the network, the rest NVLink.
[[nodiscard]] double all_to_all_seconds(const ServeDevice& device, double bytes, const Placement& where);
/// DeepEP-style high-throughput dispatch or combine (prefill): each token crosses to every
/// remote NVLink domain holding one of its `top_k` experts once, then fans out over NVLink.
/// `tokens` from this rank, `bytes` per token and copy.
[[nodiscard]] double grouped_all_to_all_seconds(const ServeDevice& device, double tokens, double bytes_per_token,
                                                double top_k, const Placement& where);
/// A point-to-point send of `bytes` between pipeline stages.
[[nodiscard]] double send_seconds(const ServeDevice& device, double bytes, bool crosses_domains);

} // namespace brix::serve
