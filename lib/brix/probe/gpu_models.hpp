#pragma once
// What brix knows about a GPU model from its name: the cluster catalog id the planner reads
// (`brix plan --gpus`), compute capability, and the NVLink generation and link count.

#include <optional>
#include <string>
#include <string_view>

namespace brix::probe {

struct GpuModelInfo {
  std::string_view catalog_id;         ///< "h100-sxm"
  std::string_view compute_capability; ///< "9.0"
  int nvlink_version = 0;              ///< 0 = no NVLink
  int nvlink_links = 0;
};

/// From a driver/hwloc model name ("NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB") or a
/// known PCI device name ("H100 SXM5 80GB"); nullopt for models brix does not know.
[[nodiscard]] std::optional<GpuModelInfo> gpu_model_info(std::string_view model);

/// Bidirectional GB/s of one NVLink: 40 for NVLink 1, 50 for NVLink 2-4, 100 for NVLink 5
/// (hardware.md: 12 × NVLink 3 = 600 GB/s on A100, 18 × NVLink 4 = 900 on H100, 1800 on B200).
[[nodiscard]] double nvlink_link_gb_per_s(int version);

/// A catalog-style id for a model brix does not know: lower case, words joined by '-'.
[[nodiscard]] std::string fallback_gpu_id(std::string_view model);

} // namespace brix::probe
