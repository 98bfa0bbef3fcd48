#pragma once
// The physics the time model rests on: how fast a GEMM, a memory-bound kernel and a collective
// run on a given GPU and link. Each constant is an achievable fraction measured by
// microbenchmarks (cuBLAS, nccl-tests, STREAM-like copies) and shared by every model and layout;
// none is fitted to one published run.

#include <brix/cluster/cluster.hpp>

#include <string_view>

namespace brix::plan {

/// The software a run uses: what the framework overlaps and which kernels it has. A property
/// of the framework version, not of the model: "modern" (Megatron-core 2024+, TransformerEngine,
/// flash attention) is the default; "megatron-2021" describes the calibration runs' software.
struct SoftwareProfile {
  bool flash_attention = true;     ///< fused attention: s² scores never stored nor written
  bool overlap_grad_reduce = true; ///< DP gradient reduction overlapped with backward (buckets)
  bool overlap_param_gather = true;///< distributed-optimizer all-gather overlapped with forward
  double tp_comm_overlap = 0.0;    ///< fraction of TP collective time hidden behind GEMMs
  bool causal_skip = true;         ///< attention kernels skip the masked half of the scores
  bool zero_bubble_schedules = true; ///< ZB-H1 and DualPipe exist (2024+ frameworks)
  /// Collectives of a group with several ranks per node drive all the node's adapters
  /// (NCCL rings/trees over every rail). DeepSpeed's ZeRO-3 of 2021 gathered parameters
  /// rank by rank, each rank's traffic on its own adapter.
  bool multi_rail = true;
  double grad_reduce_bytes = 4.0; ///< bytes per gradient element reduced (Megatron: fp32)
  /// Pipeline sends and receives batched and run beside compute; the 2021 code waited for
  /// each receive and each send in turn.
  bool batched_p2p = true;
};

/// Compute slows while a collective runs beside it: NCCL kernels take SMs and HBM bandwidth.
/// The overlapped part of the compute costs this much more (NCCL uses ~16-32 of 108-132 SMs
/// and a large share of HBM bandwidth during bulk transfers).
inline constexpr double k_overlap_contention = 0.6;

/// Time of `compute` seconds overlapped with `comm` seconds of communication.
[[nodiscard]] double overlapped_seconds(double compute, double comm);

[[nodiscard]] SoftwareProfile software_modern();
[[nodiscard]] SoftwareProfile software_megatron_2021();
/// DeepSpeed ZeRO of 2021: like megatron-2021, but ZeRO-3 prefetches parameters and overlaps
/// gradient reduction.
[[nodiscard]] SoftwareProfile software_deepspeed_2021();
/// "modern", "megatron-2021" or "deepspeed-2021"; anything else is an InputError.
[[nodiscard]] SoftwareProfile software_by_name(std::string_view name);

/// Achievable fractions and latencies of one GPU model and its links.
struct DeviceModel {
  double peak_flops = 0;        ///< dense tensor-core peak at the chosen precision
  double gemm_fraction = 0.8;   ///< achievable fraction of peak on large GEMMs
  double attention_fraction = 0.5; ///< achievable fraction for fused attention kernels
  double hbm_bytes_per_s = 0;   ///< achievable HBM bandwidth (already × fraction)
  double kernel_overhead_s = 0; ///< launch + tail per kernel
  double intra_busbw = 0;       ///< achievable bus bandwidth inside the NVLink domain, bytes/s
  double inter_busbw_per_gpu = 0; ///< achievable inter-node bus bandwidth per GPU, bytes/s
  /// Share of inter_busbw_per_gpu left by the network shape (device_model): for ring traffic
  /// (all-reduce, all-gather, reduce-scatter, send/recv) and for all-to-all's off-node part.
  double ring_fraction = 1.0;
  double all_to_all_fraction = 1.0;
  double intra_latency_s = 0;
  double inter_latency_s = 0;
  bool multi_rail = true; ///< see SoftwareProfile::multi_rail
};

/// Derives the device model of one node group at a precision ("bf16"/"fp8" peak) on a network
/// of `shape` tapered `oversubscription`:1 above the leaf switches.
[[nodiscard]] DeviceModel device_model(const cluster::NodeGroup& group, bool fp8, cluster::NetworkShape shape,
                                       double oversubscription);

/// GEMM of [m×k]·[k×n] in `bytes_per_element`: the slower of tensor-core time at a
/// shape-dependent efficiency and HBM time, plus the kernel overhead.
[[nodiscard]] double gemm_seconds(const DeviceModel& device, double m, double n, double k,
                                  double bytes_per_element);
/// Shape efficiency in (0, 1]: small dimensions waste tiles and waves.
[[nodiscard]] double gemm_shape_efficiency(double m, double n, double k);
/// A memory-bound kernel moving `bytes` through HBM.
[[nodiscard]] double memory_seconds(const DeviceModel& device, double bytes);

enum class Collective { all_reduce, all_gather, reduce_scatter, all_to_all, send_recv };

/// nccl-tests bus-bandwidth factor for `ranks` ranks.
[[nodiscard]] double bus_factor(Collective op, int ranks);

/// Placement of one process group on nodes, for bandwidth.
struct GroupPlacement {
  int ranks = 1;          ///< group size
  int ranks_per_node = 1; ///< how many of its ranks share a node
  [[nodiscard]] bool crosses_nodes() const { return ranks > ranks_per_node; }
};

/// Time of one collective over `bytes` (the per-rank buffer, nccl-tests convention).
[[nodiscard]] double collective_seconds(const DeviceModel& device, Collective op, double bytes,
                                        const GroupPlacement& placement);

} // namespace brix::plan
