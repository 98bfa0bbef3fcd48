#pragma once
// The sources `brix probe` reads besides hwloc, each behind a small interface: the GPU driver
// stack (CUDA runtime + NVML, loaded at run time), RDMA verbs, and host facts (OS, kernel,
// driver file, block devices from sysfs). Each has a system implementation and a Static one
// that returns a fixed answer: used when the topology comes from a file, and as test fakes.

#include <brix/probe/node_report.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace brix::probe {

/// One GPU as the driver stack sees it; empty fields were not available.
struct DriverGpu {
  std::string pci_bus_id; ///< normalised "0000:1b:00.0"
  std::string model;
  std::string uuid;
  std::string serial;
  std::uint64_t memory_bytes = 0;
  std::string compute_capability;
  int multiprocessors = 0;
  int pcie_gen = 0;
  int pcie_width = 0;
  int pcie_max_gen = 0;
  int pcie_max_width = 0;
  NvlinkInfo nvlink;
};

struct GpuDriverScan {
  bool available = false; ///< a driver answered (there may still be no GPU)
  std::string status;     ///< one line for the report
  std::string driver_version;
  std::string cuda_driver_version;
  std::string cuda_runtime_version;
  std::string nccl_version;
  std::vector<DriverGpu> gpus;
  std::vector<std::string> warnings;
};

class GpuDriverSource {
public:
  virtual ~GpuDriverSource() = default;
  [[nodiscard]] virtual GpuDriverScan scan() = 0;
};

/// CUDA runtime and NVML via dlopen (never linked). Library names can be overridden with
/// BRIX_CUDART_LIBRARY, BRIX_NVML_LIBRARY and BRIX_NCCL_LIBRARY.
[[nodiscard]] std::unique_ptr<GpuDriverSource> make_system_gpu_driver();

struct VerbsPort {
  int number = 1;
  int state = 0;      ///< ibv_port_state
  int link_layer = 0; ///< IBV_LINK_LAYER_*
  int active_width = 0;
  int active_speed = 0;
  std::uint32_t active_speed_ex = 0;
  std::string lid;
};

struct VerbsDevice {
  std::string name;
  std::string firmware;
  std::string node_guid; ///< "a088:c203:00f1:2b00", as sysfs and hwloc print it
  std::string sys_image_guid;
  std::vector<VerbsPort> ports;
};

struct VerbsScan {
  bool available = false; ///< the kernel has RDMA (the device list could be read)
  std::string status;
  std::vector<VerbsDevice> devices;
  std::vector<std::string> warnings; ///< values a topology file gives that cannot be right
};

class VerbsSource {
public:
  virtual ~VerbsSource() = default;
  [[nodiscard]] virtual VerbsScan scan() = 0;
};

/// libibverbs: ibv_get_device_list failing with ENOSYS is "no RDMA", not an error.
[[nodiscard]] std::unique_ptr<VerbsSource> make_system_verbs();

struct HostFacts {
  std::string hostname;
  std::string os;
  std::string kernel;
  std::string architecture;
  std::string nvidia_driver; ///< from /proc/driver/nvidia/version
  std::string gpudirect_rdma; ///< loaded peer-memory module: "nvidia_peermem", "nv_peer_mem" or ""
  std::vector<Disk> disks;
};

class HostSource {
public:
  virtual ~HostSource() = default;
  [[nodiscard]] virtual HostFacts facts() = 0;
};

/// Reads `root`/etc/os-release, `root`/proc/..., `root`/sys/block/... (root "/" for the machine).
[[nodiscard]] std::unique_ptr<HostSource> make_sysfs_host(std::string root);

class StaticGpuDriver final : public GpuDriverSource {
public:
  explicit StaticGpuDriver(GpuDriverScan scan) : m_scan(std::move(scan)) {}
  [[nodiscard]] GpuDriverScan scan() override { return m_scan; }

private:
  GpuDriverScan m_scan;
};

class StaticVerbs final : public VerbsSource {
public:
  explicit StaticVerbs(VerbsScan scan) : m_scan(std::move(scan)) {}
  [[nodiscard]] VerbsScan scan() override { return m_scan; }

private:
  VerbsScan m_scan;
};

class StaticHost final : public HostSource {
public:
  explicit StaticHost(HostFacts facts) : m_facts(std::move(facts)) {}
  [[nodiscard]] HostFacts facts() override { return m_facts; }

private:
  HostFacts m_facts;
};

/// "8 GPUs", "1 GPU": a count with its noun, for status lines.
[[nodiscard]] std::string count_of(std::size_t count, std::string_view noun);
/// "00000000:1B:00.0" / "0000:1B:00.0" → "0000:1b:00.0".
[[nodiscard]] std::string normalize_bus_id(std::string_view bus_id);
/// CUDA's integer versions: 12040 → "12.4".
[[nodiscard]] std::string cuda_version_text(int version);
/// NCCL's ncclGetVersion code: 22807 → "2.28.7" (codes below 10000: 2.8 and older, 2804 → "2.8.4").
[[nodiscard]] std::string nccl_version_text(int code);

} // namespace brix::probe
