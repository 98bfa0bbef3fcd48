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

std::int64_t get_int(const InfoMap& infos, const std::string& name) {
  return util::parse_int(util::trim(get(infos, name))).value_or(0);
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
    gpu.memory_bytes = static_cast<std::uint64_t>(get_int(device.infos, "CUDAGlobalMemorySize")) * 1024; // KiB
    gpu.multiprocessors = static_cast<int>(get_int(device.infos, "CUDAMultiProcessors"));
    gpu.nvlink.version = static_cast<int>(get_int(device.infos, "NVLinkVersion"));
    gpu.nvlink.active_links = static_cast<int>(get_int(device.infos, "NVLinkActiveLinks"));
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
      port.state = static_cast<int>(get_int(nic.infos, key("State")));
      port.link_layer = get(nic.infos, key("LinkLayer")) == "Ethernet" ? 2 : 1;
      port.active_width = static_cast<int>(get_int(nic.infos, key("ActiveWidth")));
      port.active_speed = static_cast<int>(get_int(nic.infos, key("ActiveSpeed")));
      port.active_speed_ex = static_cast<std::uint32_t>(get_int(nic.infos, key("ActiveSpeedEx")));
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
