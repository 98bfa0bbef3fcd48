#pragma once
// PCIe link arithmetic and the few devices whose generation brix must know. hwloc stores one
// number per link, GB/s after encoding (lanes × GT/s × 8/10 for Gen1-2, × 128/130 for Gen3+, / 8),
// so width and generation are decoded from it with the device's generation.

#include <optional>
#include <string>
#include <string_view>

namespace brix::probe {

/// Transfer rate per lane: Gen1 2.5 … Gen6 64 GT/s; 0 for an unknown generation.
[[nodiscard]] double pcie_gt_per_s(int gen);
/// GB/s per lane after encoding, as hwloc computes pci_link_speed.
[[nodiscard]] double pcie_lane_gb_per_s(int gen);
/// GB/s of a link, hwloc's formula.
[[nodiscard]] double pcie_link_gb_per_s(int gen, int width);
/// "32.0 GT/s PCIe" (Linux sysfs current_link_speed, and NCCL's link_speed attribute).
[[nodiscard]] std::string pcie_speed_text(int gen);
/// Parses sysfs current_link_speed ("32.0 GT/s PCIe", "8 GT/s", "2.5 GT/s"); 0 when unknown.
[[nodiscard]] int pcie_gen_from_speed_text(std::string_view text);

struct PcieLink {
  int gen = 0;   ///< 0 = unknown
  int width = 0;
};

/// Decodes hwloc's GB/s. With the device's generation known, the link is taken to run at that
/// generation (a reduced width is the usual fault: "trained at x8"); unknown, the widest
/// standard width that fits exactly wins. {0,0} when nothing fits.
[[nodiscard]] PcieLink decode_pcie_link(double gb_per_s, int device_gen);

/// A PCI device brix knows by id: GPUs and RDMA adapters of the DGX/HGX class.
struct KnownPciDevice {
  int vendor = 0;
  int device = 0;
  std::string_view name; ///< "H100 SXM5 80GB", "ConnectX-7"
  int pcie_gen = 0;
  int pcie_width = 0;
};
[[nodiscard]] std::optional<KnownPciDevice> known_pci_device(int vendor, int device);

} // namespace brix::probe
