#pragma once
// The node model `brix probe` fills: what is in one machine, in the field's words. Sources
// (hwloc, the GPU driver, verbs, sysfs) fill it in probe.cpp; report_json.cpp writes and reads it,
// report_text.cpp prints it, merge.cpp compares many of them.

#include <brix/probe/path_class.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace brix::probe {

struct CpuPackage {
  int index = 0;
  std::string vendor; ///< "GenuineIntel", "AuthenticAMD"
  std::string model;  ///< "Intel(R) Xeon(R) Platinum 8480C"
  int family = -1;    ///< CPUID family/model numbers, when known (NCCL's cpu element wants them)
  int model_number = -1;
  int cores = 0;
  int threads = 0;
  std::string cpus;   ///< CPU list, "0-55,112-167"
  std::vector<int> numa_nodes;
};

struct NumaNode {
  int index = 0;
  std::uint64_t memory_bytes = 0;
  std::string cpus;
};

/// One object of the PCI tree (host bridge, PCI bridge or device), children nested.
struct PciNode {
  std::string kind;   ///< "host_bridge", "bridge" or "device"
  std::string bus_id; ///< "0000:1b:00.0"; for host bridges the bus range "0000:[18-1d]"
  int class_id = 0;   ///< 16-bit PCI class, 0x0302 = 3D controller
  int vendor_id = 0;
  int device_id = 0;
  int subvendor_id = 0;
  int subdevice_id = 0;
  double link_gb_per_s = 0; ///< as hwloc reports it (GB/s after encoding)
  std::string name;         ///< "GH100 [H100 SXM5 80GB]" (hwloc's PCIDevice or a known id), or ""
  std::vector<std::string> os_devices; ///< "cuda0", "mlx5_0", "ibp24s0", "nvme0n1"
  int numa_node = -1;       ///< locality of a top-level object (-1: several or unknown)
  std::vector<PciNode> children;
};

struct NvlinkPeer {
  std::string target; ///< remote PCI bus id, or "switch"
  int links = 0;
};

struct NvlinkInfo {
  int version = 0;      ///< NVLink generation (3 = A100, 4 = H100, 5 = B200)
  int active_links = 0;
  double gb_per_s = 0;  ///< bidirectional per GPU, from version and links
  std::vector<NvlinkPeer> peers;
};

struct NicRef {
  std::string name; ///< "mlx5_0"
  PathClass path = PathClass::sys;
};

struct Gpu {
  int index = 0; ///< PCI bus order, as nvidia-smi and CUDA_DEVICE_ORDER=PCI_BUS_ID number them
  std::string model;
  std::string pci_bus_id;
  int numa_node = -1;  ///< -1 when the GPU's locality spans several NUMA nodes or is unknown
  std::string cpus;    ///< CPU list local to the GPU
  int pcie_gen = 0;    ///< 0 = unknown
  int pcie_width = 0;
  int pcie_expected_width = 0; ///< the device's full width when known (x16 for SXM GPUs)
  double pcie_gb_per_s = 0;
  std::uint64_t memory_bytes = 0;
  std::string compute_capability; ///< "9.0"
  int multiprocessors = 0;
  std::string uuid;
  std::string serial;
  NvlinkInfo nvlink;
  std::vector<NicRef> nearest_nics; ///< every RDMA adapter, closest first
};

struct NicPort {
  int number = 1;
  std::string state;      ///< "ACTIVE", "DOWN", "INIT", "ARMED", "ACTIVE_DEFER", "UNKNOWN"
  std::string link_layer; ///< "InfiniBand" or "Ethernet"
  std::string width;      ///< "4X"
  std::string speed;      ///< "NDR"
  double rate_gbps = 0;
  std::string lid;
};

struct Nic {
  std::string name; ///< verbs device name, "mlx5_0"
  std::string pci_bus_id;
  std::string model;
  int numa_node = -1;
  std::string cpus;
  std::string firmware;
  std::string node_guid;
  std::string sys_image_guid;
  std::vector<std::string> netdevs; ///< "ibp24s0"
  std::vector<NicPort> ports;
  /// The closest GPU (index, path); index -1 when the node has no GPU.
  int nearest_gpu = -1;
  PathClass nearest_gpu_path = PathClass::sys;
  /// A compute adapter sits at PIX/PXB from some GPU (or every adapter when there is no GPU).
  bool compute = false;

  /// The first port, which is what single-port HCAs report and `ibstat` shows first.
  [[nodiscard]] const NicPort* primary_port() const { return ports.empty() ? nullptr : &ports.front(); }
};

struct Disk {
  std::string name;  ///< "nvme0n1", "sda"
  std::string model;
  std::string firmware;
  std::string serial;
  std::uint64_t size_bytes = 0;
  std::string transport; ///< "nvme", "sata/scsi", "virtio", ...
  std::string pci_bus_id;
};

struct SoftwareVersions {
  std::string os;            ///< "Ubuntu 22.04.4 LTS"
  std::string kernel;        ///< "5.15.0-1042-nvidia"
  std::string architecture;  ///< "x86_64"
  std::string nvidia_driver; ///< "" = unknown/absent
  std::string cuda_driver;   ///< "12.4"
  std::string cuda_runtime;  ///< "13.0"
  std::string nccl;          ///< "2.28.7"
  std::string hwloc;         ///< "2.9.0" (the hwloc that discovered the topology)
  std::string gpudirect_rdma; ///< peer-memory kernel module loaded: "nvidia_peermem", or ""
};

/// A GPU-to-GPU cell of the matrix: NVLink count (0 = none) and the PCIe path class.
struct GpuPair {
  int nvlinks = 0;
  PathClass path = PathClass::sys;
};

struct NodeReport {
  std::string host;
  std::string host_source;     ///< "SLURMD_NODENAME", "hostname" or "topology file"
  std::string topology_source; ///< "live" or the XML file
  SoftwareVersions software;
  std::string gpu_status;  ///< one line: "8 GPUs (CUDA runtime, NVML)" or "no GPU driver (...)"
  std::string rdma_status; ///< one line: "10 RDMA adapters (verbs)" or "no RDMA (...)"
  std::vector<CpuPackage> packages;
  std::vector<NumaNode> numa_nodes;
  std::vector<PciNode> pci; ///< host bridges (and devices directly under the machine)
  std::vector<Gpu> gpus;
  std::vector<Nic> nics;
  std::vector<Disk> disks;
  /// gpu_pairs[i][j] for GPUs i, j; nic_paths[i][j] for NICs i, j (diagonal unused).
  std::vector<std::vector<GpuPair>> gpu_pairs;
  std::vector<std::vector<PathClass>> nic_paths;
  std::vector<std::string> warnings; ///< degraded links, ports down, sources that failed

  [[nodiscard]] int cores() const;
  [[nodiscard]] int threads() const;
  [[nodiscard]] std::uint64_t memory_bytes() const;
  [[nodiscard]] const Nic* find_nic(const std::string& name) const;
};

} // namespace brix::probe
