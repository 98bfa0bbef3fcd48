#pragma once
// GPU figures and cluster descriptions. Loaded from a cluster YAML file or the --nodes/--gpu
// shorthand (cluster/loader.hpp); GPU defaults come from the built-in catalog (cluster/gpu_catalog.hpp).

#include <cstdint>
#include <string>
#include <vector>

namespace brix::cluster {

/// One GPU model's figures (dense, no sparsity). Bandwidths in bytes/s, FLOP/s as numbers.
struct GpuSpec {
  std::string id;      ///< catalog key, e.g. "h100-sxm"
  std::string display; ///< e.g. "H100 SXM 80GB"
  double memory_bytes = 0;
  double hbm_bytes_per_s = 0;
  double bf16_flops = 0;
  double fp8_flops = 0;          ///< 0 when the GPU has no FP8 tensor cores
  double fp4_flops = 0;          ///< dense FP4 (NVFP4/MXFP4) peak; 0 without FP4 tensor cores
  double nvlink_bytes_per_s = 0; ///< bidirectional per GPU; 0 when there is no NVLink
  int default_nics_per_node = 8; ///< the usual node's compute adapters for this GPU
  double default_nic_gbps = 400;
  /// Compute adapters per GPU in the usual node (0.5 = one adapter per GPU pair); the shorthand
  /// --nodes/--gpu scales it by --gpus-per-node.
  double default_nics_per_gpu = 1.0;
  int default_gpus_per_node = 8;
  double pcie_bytes_per_s = 0;   ///< host link per GPU, bidirectional (the path without NVLink)
  /// Streaming multiprocessors (AMD: compute units): how many GEMM output tiles run at once,
  /// which sets a small GEMM's wave quantisation (plan::gemm_shape_efficiency).
  int sms = 0;
  /// NVIDIA compute capability × 10 (80 Ampere, 89 Ada, 90 Hopper, 100 Blackwell); 0 for GPUs
  /// that are not NVIDIA's. Sets which kernels exist at all (e.g. DeepEP's internode dispatch).
  int compute_capability = 0;
};

/// Size limits, checked where clusters are read (files, the shorthand, partial selections) with
/// 64-bit arithmetic, so that every `int` GPU count computed from a ClusterSpec fits.
inline constexpr std::int64_t k_max_nodes = 1'000'000;
inline constexpr std::int64_t k_max_gpus_per_node = 4096;
inline constexpr std::int64_t k_max_gpus = 10'000'000;

enum class NetworkShape { rail_optimized, fat_tree, single_switch };

/// A set of identical nodes.
struct NodeGroup {
  std::string name;
  int nodes = 0;
  int gpus_per_node = 0;
  GpuSpec gpu;
  int nvlink_domain = 0;         ///< GPUs sharing one NVLink/NVSwitch domain (default: the node)
  double nvlink_bytes_per_s = 0; ///< bidirectional per GPU inside the domain
  int nics_per_node = 0;
  double nic_gbps = 0;           ///< per adapter
  /// Optional measured bus bandwidths (bytes/s, nccl-tests convention); 0 = not measured.
  double measured_intra_busbw = 0;
  double measured_inter_busbw = 0;
  std::vector<std::string> hosts; ///< optional host names (from `brix probe merge`)
  std::string topology_yaml;      ///< optional free-form node details, kept as YAML text

  /// GPUs that reach each other without the network: the NVLink domain (72 on a GB200 NVL72
  /// rack, which spans 18 four-GPU nodes), else the node (PCIe cards talk peer to peer).
  [[nodiscard]] int nvlink_reach() const { return nvlink_domain > 1 ? nvlink_domain : gpus_per_node; }

  [[nodiscard]] int gpus() const { return nodes * gpus_per_node; }
  /// Inter-node bandwidth available to one GPU, bytes/s per direction.
  [[nodiscard]] double nic_bytes_per_s_per_gpu() const {
    return gpus_per_node > 0 ? nics_per_node * nic_gbps * 1e9 / 8.0 / gpus_per_node : 0.0;
  }
};

struct ClusterSpec {
  std::string name;
  std::string source; ///< file it was read from, or the shorthand's spec (shorthand_spec)
  std::vector<NodeGroup> groups;
  NetworkShape network = NetworkShape::rail_optimized;
  double oversubscription = 1.0; ///< 1.0 = non-blocking; 2.0 = 2:1 tapered
  double storage_write_bytes_per_s = 0;
  double storage_read_bytes_per_s = 0;

  [[nodiscard]] int total_gpus() const {
    int total = 0;
    for (const auto& group : groups) {
      total += group.gpus();
    }
    return total;
  }
  [[nodiscard]] bool homogeneous() const {
    for (const auto& group : groups) {
      if (group.gpu.id != groups.front().gpu.id || group.gpus_per_node != groups.front().gpus_per_node) {
        return false;
      }
    }
    return true;
  }
};

} // namespace brix::cluster
