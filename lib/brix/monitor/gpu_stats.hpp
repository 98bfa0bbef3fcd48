#pragma once
// GPU figures for the node collector, behind an interface. The real source loads NVML
// (libnvidia-ml through nvml/nvml.hpp, the binding the probe uses too) when the driver is
// installed; without it the readout says why GPU figures are unavailable — they are never made
// up. Tests use a fake (tests/support/fake_monitor_sources.hpp).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace brix::monitor {

/// One GPU; units follow dcgm-exporter (MiB, °C, W) so the Prometheus names can match it.
struct GpuFigures {
  int index = 0;
  std::string uuid;
  std::string name;
  std::optional<double> utilization_percent; ///< DCGM_FI_DEV_GPU_UTIL
  std::optional<double> memory_used_mib;     ///< DCGM_FI_DEV_FB_USED
  std::optional<double> memory_free_mib;     ///< DCGM_FI_DEV_FB_FREE
  std::optional<double> temperature_c;       ///< DCGM_FI_DEV_GPU_TEMP
  std::optional<double> power_w;             ///< DCGM_FI_DEV_POWER_USAGE
  std::uint64_t xid_count = 0;               ///< critical XID events seen since start
  std::optional<std::uint64_t> last_xid;     ///< DCGM_FI_DEV_XID_ERRORS (value of the last XID)
};

struct GpuReadout {
  bool available = false;
  std::string reason; ///< why not available, e.g. "libnvidia-ml.so.1 not found"
  std::vector<GpuFigures> gpus;
};

class GpuSource {
public:
  virtual ~GpuSource() = default;
  [[nodiscard]] virtual GpuReadout read() = 0;
};

/// NVML ($BRIX_NVML_LIBRARY, else libnvidia-ml.so.1); always returns a source (one that reports
/// unavailability, with the loader's or NVML's reason, when NVML cannot be loaded or initialised).
[[nodiscard]] std::unique_ptr<GpuSource> open_nvml();

} // namespace brix::monitor
