#pragma once
// Reads what brix needs out of an hwloc topology: packages, NUMA nodes, the PCI tree, the GPU and
// RDMA adapter PCI objects with their OS-device infos, block devices, and PCIe path classes
// between I/O objects (walking parent chains: hwloc_get_common_ancestor_obj must not be used on
// I/O objects, whose depths are negative).

#include <brix/probe/hwloc_topology.hpp>
#include <brix/probe/node_report.hpp>

#include <map>
#include <string>
#include <vector>

namespace brix::probe {

/// hwloc info name → value (the first value when a name repeats).
using InfoMap = std::map<std::string, std::string>;

/// A GPU or adapter as hwloc sees it.
struct HwlocDevice {
  hwloc_obj_t object = nullptr; ///< the PCI device, or the OS device when it has no PCI parent
  std::string bus_id;           ///< "" without a PCI parent
  int vendor_id = 0;
  int device_id = 0;
  int class_id = 0;
  double link_gb_per_s = 0;
  std::string pci_name; ///< hwloc's PCIDevice info
  int numa_node = -1;
  std::string cpus;
  std::string os_device; ///< "mlx5_0" for adapters; "cuda0"/"nvml0" for GPUs when present
  InfoMap infos;         ///< the OS devices' infos (CUDA and NVML merged for GPUs)
  std::vector<std::string> netdevs;
};

struct HwlocScan {
  InfoMap machine_infos;
  std::vector<CpuPackage> packages;
  std::vector<NumaNode> numa_nodes;
  std::vector<PciNode> pci;
  std::vector<HwlocDevice> gpus; ///< PCI bus order
  std::vector<HwlocDevice> nics; ///< one per OpenFabrics OS device, by name
  std::vector<Disk> disks;       ///< hwloc Block OS devices (used when reading a file)
  /// What is inconsistent in the topology (bus ids, link speeds, empty cpusets): report warnings.
  std::vector<std::string> problems;
};

[[nodiscard]] HwlocScan scan_topology(const HwlocTopology& topology);

/// PCIe path class between two I/O objects (PCI devices or OS devices).
[[nodiscard]] PathClass classify_path(hwloc_obj_t a, hwloc_obj_t b);
/// I/O objects crossed between a and b; orders adapters of the same class.
[[nodiscard]] int path_hops(hwloc_obj_t a, hwloc_obj_t b);

/// "0-55,112-167" for a cpuset.
[[nodiscard]] std::string cpu_list(hwloc_const_bitmap_t cpuset);
/// "0000:1b:00.0" for a PCI device or bridge.
[[nodiscard]] std::string pci_bus_id(hwloc_obj_t object);
/// Orders "mlx5_2" before "mlx5_10".
[[nodiscard]] bool natural_less(const std::string& a, const std::string& b);

} // namespace brix::probe
