// The serving device model. Bandwidths and the large-GEMM fraction come from the training
// planner's physics (plan/physics.hpp, called as it is); the constants below are what serving
// kernels reach in public microbenchmarks. None is fitted to a published serving result.
#include <brix/serve/device.hpp>

#include <brix/plan/physics.hpp>

#include <algorithm>
#include <cmath>

namespace brix::serve {

namespace {

// Streaming kernels (paged/latent attention reading the KV cache, elementwise kernels) reach
// 80–90% of datasheet HBM bandwidth: FlashMLA 3,000 GB/s of the H800's 3,350 (README,
// "memory-bound configuration"), STREAM-like copies 85–90%.
constexpr double k_stream_hbm_fraction = 0.75;
// FP8 GEMMs with per-128 block scales lose efficiency as the reduction gets short: DeepGEMM's
// README (H800, M = 4,096) lists 590 TFLOPS at K = 512, 990 at K = 1,536, 1,025 at K = 2,048,
// 1,058-1,304 at K = 7,168 and 1,358 at K = 16,384. k / (k + 700) times the large-GEMM fraction
// follows that table within a few points (0.27, 0.49, 0.52, 0.64, 0.68 of peak against 0.30,
// 0.50, 0.52, 0.53-0.66, 0.69). The same per-tile structure holds for block-scaled FP4.
constexpr double k_block_scaled_k_knee = 700.0;
// The Triton block-FP8 GEMM of early-2025 vLLM and SGLang against DeepGEMM on the same H200 and
// harness (SGLang PR #3893, DeepSeek-V3 shapes, m = 2,048 and 4,096): 2.95x and 3.0x the time at
// N x K = 24,576 x 7,168, 1.8x and 1.9x at 32,768 x 512, 2.4x and 2.45x at 2,304 x 7,168, 2.2x and
// 2.5x at 1,536 x 7,168: 2.4x on average, so 1 / 2.4 of the rate. (vLLM PR #23280, H100, puts
// vLLM's first CUTLASS block-FP8 kernel 13% above that Triton kernel at M = 4,096.)
constexpr double k_triton_block_scaled_fraction = 1.0 / 2.4;
// GEMMs at decode sizes stream their weights more slowly than a copy: DeepGEMM's README (H800,
// 3,350 GB/s) lists 1,688-2,455 GB/s at M = 64 (N x K = 2,112 x 7,168, 24,576 x 1,536,
// 32,768 x 512): 0.50-0.73, 0.63 on average.
constexpr double k_gemm_stream_hbm_fraction = 0.63;
// Fused attention forward: FlashAttention-3 reaches 600–740 of 989 bf16 TFLOP/s on H100
// (Shah et al. 2024), FlashMLA 660 TFLOP/s on H800 in its compute-bound configuration.
constexpr double k_attention_fraction = 0.6;
// MLA decode over an FP8 KV cache dequantizes every key before the bf16 MMA: FlashMLA's FP8
// decoding kernel reaches 410 TFLOPS on H800 where its bf16 one reaches 660 (README): 0.62.
constexpr double k_mla_fp8_kv_factor = 410.0 / 660.0;
// MLA decode kernels on Blackwell reach a smaller share of its larger peak: the same FlashMLA
// FP8 decoding kernel reaches 350 of B200's 2,250 bf16 TFLOPS against 410 of H800's 989
// (README, "not really optimized yet"; no other public MLA decode figure on Blackwell): 0.375.
constexpr double k_mla_blackwell_factor = (350.0 / 2250.0) / (410.0 / 989.0);

// The shortest kernel in a CUDA-graph replay: ~1 µs launch gap plus ramp-up and tail of a
// kernel that does almost nothing; decode traces of small-batch serving show 3–5 µs per kernel.
constexpr double k_kernel_floor_s = 4e-6;
// Host time to launch one kernel from eager PyTorch (Python module code, the dispatcher,
// cudaLaunchKernel), for engines that run decode without CUDA graphs and for steps larger than
// an engine's largest captured graph (EngineVersion::cuda_graph_max_tokens; vLLM 0.11 runs those
// through Inductor-compiled code, whose host time per kernel no source gives: this eager figure
// is an upper bound for it). SGLang PR #1401 (2024-09,
// GPU not stated; brix's H100 model gives its graph time within 6%) measured Llama-3-8B decode at
// batch 1 (sglang.bench_latency, 128 in, 8 out): 8.23 ms per step without CUDA graphs against
// 7.35 ms with them (FlashInfer attention). Eager decode is host-bound, so 8.23 ms is the host
// time of the step's launches, which brix counts as 292 kernels (9 per layer over 32 layers, 4
// for the head): 28 µs each (tests/unit/test_serve_physics.cpp recomputes the count).
constexpr double k_eager_launch_s = 28e-6;
// Small all-reduce inside an NVLink domain with the engines' one-shot custom kernels (vLLM
// custom_all_reduce, TensorRT-LLM's allreduce fusion): 5–10 µs for decode-sized messages.
constexpr double k_intra_latency_s = 8e-6;
// One small-message step of NCCL across nodes over InfiniBand/RoCE: ~10–20 µs (nccl-tests
// multi-node latency at 8 B–64 KB).
constexpr double k_inter_latency_s = 15e-6;
// One low-latency dispatch or combine (DeepEP README, H800 + CX7: 77–194 µs for 128 tokens per
// rank at EP 8–256, of which the size-independent part is ~15–25 µs).
constexpr double k_a2a_latency_s = 20e-6;

/// Blackwell parts (B200, GB200): the catalog's GPUs with FP4 tensor cores.
bool blackwell(const cluster::GpuSpec& gpu) { return gpu.id.rfind("b", 0) == 0 || gpu.id.rfind("gb", 0) == 0; }

} // namespace

double ServeDevice::peak(ComputePrecision precision) const {
  if (precision == ComputePrecision::fp4 && fp4_flops > 0) {
    return fp4_flops;
  }
  if (precision != ComputePrecision::bf16 && fp8_flops > 0) {
    return fp8_flops;
  }
  return bf16_flops;
}

ServeDevice serve_device(const cluster::NodeGroup& group, cluster::NetworkShape shape, double oversubscription) {
  // bf16 device model: its gemm_fraction is the large-GEMM fraction of the GPU generation
  // (cuBLAS microbenchmarks). FP8/FP4 GEMMs run at that fraction of their own peak times the
  // share training's FP8 GEMMs keep (plan::fp8_gemm_share: Hopper 0.85, chosen on the training
  // fit set; Blackwell 0.54 of the FP8 peak, about 0.83 of its 0.65 bf16 fraction): an isolated kernel reaches more (DeepGEMM 1,550 of 1,979 TFLOP/s
  // on H800), but that share is what the same GEMMs keep inside whole steps, and serving had
  // taken the isolated figure (1.0) with no end-to-end measurement behind it.
  const auto base = plan::device_model(group, false, shape, oversubscription);
  ServeDevice device;
  device.gpu = group.gpu.display;
  device.memory_bytes = group.gpu.memory_bytes;
  device.hbm_bytes_per_s = group.gpu.hbm_bytes_per_s * k_stream_hbm_fraction;
  device.gemm_hbm_bytes_per_s = group.gpu.hbm_bytes_per_s * k_gemm_stream_hbm_fraction;
  device.bf16_flops = group.gpu.bf16_flops;
  device.fp8_flops = group.gpu.fp8_flops;
  device.fp4_flops = group.gpu.fp4_flops;
  device.gemm_fraction = base.gemm_fraction;
  device.sms = base.sms;
  device.tile_ramp_k = base.tile_ramp_k;
  device.low_precision_gemm_share = group.gpu.fp8_flops > 0 ? plan::fp8_gemm_share(group.gpu) : 1.0;
  device.block_scaled_k_knee = k_block_scaled_k_knee;
  device.triton_block_scaled_fraction = k_triton_block_scaled_fraction;
  device.attention_fraction = k_attention_fraction;
  device.mla_decode_fraction = k_attention_fraction * (blackwell(group.gpu) ? k_mla_blackwell_factor : 1.0);
  device.mla_decode_fp8_kv_fraction = device.mla_decode_fraction * k_mla_fp8_kv_factor;
  // SGLang's FP8 attention on GB200 "allows faster Tensor Core instructions" (LMSYS blog
  // 2025-09-25, Part II): the FP8 MMA at FP8 peak, not a dequantization to bf16.
  device.mla_decode_fp8_mma_fraction =
      blackwell(group.gpu) && group.gpu.bf16_flops > 0 ? device.mla_decode_fraction * group.gpu.fp8_flops / group.gpu.bf16_flops : 0.0;
  device.kernel_floor_s = k_kernel_floor_s;
  device.eager_launch_s = k_eager_launch_s;
  device.gpus_per_node = group.gpus_per_node;
  device.nvlink_domain = std::max(1, group.nvlink_domain);
  device.intra_busbw = base.intra_busbw;
  device.inter_bytes_per_s = base.inter_busbw_per_gpu;
  device.ring_fraction = base.ring_fraction;
  device.a2a_fraction = base.all_to_all_fraction;
  device.intra_latency_s = k_intra_latency_s;
  device.inter_latency_s = k_inter_latency_s;
  device.a2a_latency_s = k_a2a_latency_s;
  device.deepep = plan::runs_node_level_dispatch(group.gpu);
  // The catalog's host link is bidirectional (PCIe x16, GB200's NVLink-C2C share): half each way.
  device.host_to_device_bytes_per_s = group.gpu.pcie_bytes_per_s / 2.0;
  return device;
}

ComputePrecision compute_precision(WeightPrecision weights, const ServeDevice& device) {
  if (weights == WeightPrecision::fp4) {
    // Without FP4 tensor cores an FP4 checkpoint runs weight-only (W4A16): the kernels stream
    // the 4-bit weights and dequantize them to bf16 in registers before a bf16 MMA. Hopper has
    // no FP4 and no mixed FP4 x FP8 MMA; gpt-oss's MXFP4 MoE on H100/H200 runs this way
    // (triton_kernels matmul_ogs with an MXFP4 weight layout, bf16 activations).
    return device.fp4_flops > 0 ? ComputePrecision::fp4 : ComputePrecision::bf16;
  }
  if (weights != WeightPrecision::bf16 && device.fp8_flops > 0) {
    return ComputePrecision::fp8;
  }
  return ComputePrecision::bf16;
}

Placement placement(const ServeDevice& device, int ranks) {
  return {ranks, std::min(ranks, device.nvlink_domain)};
}

double all_reduce_seconds(const ServeDevice& device, double bytes, const Placement& where) {
  if (where.ranks <= 1 || bytes <= 0) {
    return 0.0;
  }
  const double n = where.ranks;
  const double factor = 2.0 * (n - 1.0) / n;
  if (!where.crosses_domains()) {
    return device.intra_latency_s + bytes * factor / device.intra_busbw;
  }
  // Hierarchical: reduce inside each domain, then across domains on every rank's adapter
  // (NCCL's trees and rings over all rails), then broadcast back inside.
  const double domains = n / where.per_domain;
  const double inter = device.inter_bytes_per_s * device.ring_fraction * where.per_domain;
  return 2.0 * device.intra_latency_s + device.inter_latency_s * 2.0 * std::ceil(std::log2(std::max(2.0, domains))) +
         bytes * factor / std::min(device.intra_busbw, inter);
}

double all_to_all_seconds(const ServeDevice& device, double bytes, const Placement& where) {
  if (where.ranks <= 1 || bytes <= 0) {
    return 0.0;
  }
  const double off_domain = 1.0 - static_cast<double>(where.per_domain) / where.ranks;
  const double on_domain = static_cast<double>(where.per_domain - 1) / where.ranks;
  const double network = off_domain > 0 ? bytes * off_domain / (device.inter_bytes_per_s * device.a2a_fraction) : 0.0;
  // Inside one NVLink domain the exchange is a kernel writing peers' memory directly.
  const double latency = where.crosses_domains() ? device.a2a_latency_s : device.intra_latency_s;
  return latency + std::max(network, bytes * on_domain / device.intra_busbw);
}

double grouped_all_to_all_seconds(const ServeDevice& device, double tokens, double bytes_per_token, double top_k,
                                  const Placement& where) {
  if (where.ranks <= 1 || tokens <= 0) {
    return 0.0;
  }
  const double domains = static_cast<double>(where.ranks) / where.per_domain;
  // Uniform routing: a domain holds none of a token's experts with probability (1 − 1/D)^k.
  const double remote = (domains - 1.0) * (1.0 - std::pow(1.0 - 1.0 / domains, top_k));
  const double local = top_k * static_cast<double>(where.per_domain - 1) / where.ranks;
  const double network =
      remote > 0 ? tokens * remote * bytes_per_token / (device.inter_bytes_per_s * device.a2a_fraction) : 0.0;
  const double nvlink = tokens * (local + remote) * bytes_per_token / device.intra_busbw;
  const double latency = where.crosses_domains() ? device.a2a_latency_s : device.intra_latency_s;
  return latency + std::max(network, nvlink);
}

double send_seconds(const ServeDevice& device, double bytes, bool crosses_domains) {
  if (bytes <= 0) {
    return 0.0;
  }
  return crosses_domains ? device.inter_latency_s + bytes / device.inter_bytes_per_s
                         : device.intra_latency_s + bytes / device.intra_busbw;
}

} // namespace brix::serve
