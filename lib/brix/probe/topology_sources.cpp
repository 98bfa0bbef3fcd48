#include <brix/probe/topology_sources.hpp>

#include <brix/probe/gpu_models.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::probe {

namespace {

std::string get(const InfoMap& infos, const std::string& name) {
  const auto found = infos.find(name);
  return found != infos.end() ? found->second : "";
}

/// An integer annotation in [low, high]. Absent: 0, silently (older files lack some). Present
/// but not an integer in range (a damaged or hand-edited file): 0 too, with a warning naming the
/// object, so that the report never shows a made-up or negative figure as if measured.
std::int64_t get_int(const InfoMap& infos, const std::string& name, std::int64_t low, std::int64_t high,
                     std::string_view object, std::vector<std::string>& warnings) {
  const auto found = infos.find(name);
  if (found == infos.end()) {
    return 0;
  }
  const auto value = util::parse_int(util::trim(found->second));
  if (!value || *value < low || *value > high) {
    warnings.push_back(fmt::format("{}: {}='{}' is not an integer from {} to {} (a damaged topology file?); taken "
                                   "as unknown",
                                   object, name, util::printable(found->second), low, high));
    return 0;
  }
  return *value;
}

} // namespace

GpuDriverScan gpu_scan_from_topology(const HwlocScan& scan) {
  GpuDriverScan result;
  result.driver_version = get(scan.machine_infos, "NVIDIADriverVersion");
  result.cuda_driver_version = get(scan.machine_infos, "CUDADriverVersion");
  result.nccl_version = get(scan.machine_infos, "NCCLVersion");
  for (const auto& device : scan.gpus) {
    DriverGpu gpu;
    gpu.pci_bus_id = device.bus_id;
    gpu.model = get(device.infos, "GPUModel");
    gpu.uuid = get(device.infos, "NVIDIAUUID");
    gpu.serial = get(device.infos, "NVIDIASerial");
    const std::string object = fmt::format("GPU {}", device.bus_id);
    auto& warnings = result.warnings;
    // Bounds: 1 PiB of memory in KiB, SMs and NVLinks far above any GPU's.
    gpu.memory_bytes =
        static_cast<std::uint64_t>(get_int(device.infos, "CUDAGlobalMemorySize", 0, 1LL << 40, object, warnings)) * 1024;
    gpu.multiprocessors = static_cast<int>(get_int(device.infos, "CUDAMultiProcessors", 0, 65536, object, warnings));
    gpu.nvlink.version = static_cast<int>(get_int(device.infos, "NVLinkVersion", 0, 16, object, warnings));
    gpu.nvlink.active_links = static_cast<int>(get_int(device.infos, "NVLinkActiveLinks", 0, 64, object, warnings));
    gpu.nvlink.gb_per_s = gpu.nvlink.active_links * nvlink_link_gb_per_s(gpu.nvlink.version);
    const std::string remote = get(device.infos, "NVLinkRemote");
    if (gpu.nvlink.active_links > 0) {
      gpu.nvlink.peers.push_back({remote.empty() ? "unknown" : remote, gpu.nvlink.active_links});
    }
    result.gpus.push_back(std::move(gpu));
  }
  result.available = !result.gpus.empty();
  result.status = result.gpus.empty() ? "no GPU in the topology file"
                                      : count_of(result.gpus.size(), "GPU") + " (from the topology file)";
  return result;
}

VerbsScan verbs_scan_from_topology(const HwlocScan& scan) {
  VerbsScan result;
  for (const auto& nic : scan.nics) {
    VerbsDevice device;
    device.name = nic.os_device;
    device.firmware = get(nic.infos, "FirmwareVersion");
    device.node_guid = get(nic.infos, "NodeGUID");
    device.sys_image_guid = get(nic.infos, "SysImageGUID");
    for (int number = 1; nic.infos.count(fmt::format("Port{}State", number)) > 0; ++number) {
      const auto key = [number](const char* what) { return fmt::format("Port{}{}", number, what); };
      VerbsPort port;
      port.number = number;
      const std::string object = fmt::format("adapter {} port {}", nic.os_device, number);
      auto& warnings = result.warnings;
      // ibv_port_attr: state 0-5 (NOP to ACTIVE_DEFER); width and speed are bit masks.
      port.state = static_cast<int>(get_int(nic.infos, key("State"), 0, 5, object, warnings));
      port.link_layer = get(nic.infos, key("LinkLayer")) == "Ethernet" ? 2 : 1;
      port.active_width = static_cast<int>(get_int(nic.infos, key("ActiveWidth"), 0, 255, object, warnings));
      port.active_speed = static_cast<int>(get_int(nic.infos, key("ActiveSpeed"), 0, 255, object, warnings));
      port.active_speed_ex =
          static_cast<std::uint32_t>(get_int(nic.infos, key("ActiveSpeedEx"), 0, 0xffffffffLL, object, warnings));
      port.lid = get(nic.infos, key("LID"));
      device.ports.push_back(port);
    }
    result.devices.push_back(std::move(device));
  }
  result.available = !result.devices.empty();
  result.status = result.devices.empty() ? "no RDMA adapter in the topology file"
                                         : count_of(result.devices.size(), "RDMA adapter") + " (from the topology file)";
  return result;
}

HostFacts host_facts_from_topology(const HwlocScan& scan) {
  HostFacts facts;
  const auto& infos = scan.machine_infos;
  facts.hostname = get(infos, "HostName");
  facts.os = get(infos, "OSDistribution");
  if (facts.os.empty()) {
    facts.os = get(infos, "OSName");
  }
  facts.kernel = get(infos, "OSRelease");
  facts.architecture = get(infos, "Architecture");
  facts.nvidia_driver = get(infos, "NVIDIADriverVersion");
  facts.gpudirect_rdma = get(infos, "GPUDirectRDMA");
  facts.disks = scan.disks;
  return facts;
}

} // namespace brix::probe
