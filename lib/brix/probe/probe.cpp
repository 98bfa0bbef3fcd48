#include <brix/probe/probe.hpp>

#include <brix/probe/gpu_models.hpp>
#include <brix/probe/ib_rate.hpp>
#include <brix/probe/pcie.hpp>
#include <brix/probe/topology_sources.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <tuple>

namespace brix::probe {

namespace {

std::string get_info(const InfoMap& infos, const std::string& name) {
  const auto found = infos.find(name);
  return found != infos.end() ? found->second : "";
}

std::string gpu_model_of(const HwlocDevice& device, const DriverGpu* driver) {
  if (driver != nullptr && !driver->model.empty()) {
    return driver->model;
  }
  if (auto model = get_info(device.infos, "GPUModel"); !model.empty()) {
    return model;
  }
  if (auto known = known_pci_device(device.vendor_id, device.device_id)) {
    return "NVIDIA " + std::string(known->name);
  }
  if (!device.pci_name.empty()) {
    return device.pci_name;
  }
  return fmt::format("NVIDIA GPU {:04x}:{:04x}", device.vendor_id, device.device_id);
}

Gpu make_gpu(const HwlocDevice& device, const DriverGpu* driver, std::vector<std::string>& warnings) {
  Gpu gpu;
  gpu.pci_bus_id = device.bus_id;
  gpu.model = gpu_model_of(device, driver);
  gpu.numa_node = device.numa_node;
  gpu.cpus = device.cpus;
  const auto known = known_pci_device(device.vendor_id, device.device_id);
  const auto model_info = gpu_model_info(gpu.model);
  if (driver != nullptr && driver->pcie_width > 0) {
    gpu.pcie_gen = driver->pcie_gen;
    gpu.pcie_width = driver->pcie_width;
  } else {
    const auto link = decode_pcie_link(device.link_gb_per_s, known ? known->pcie_gen : 0);
    gpu.pcie_gen = link.gen;
    gpu.pcie_width = link.width;
  }
  gpu.pcie_expected_width = driver != nullptr && driver->pcie_max_width > 0 ? driver->pcie_max_width
                            : known                                          ? known->pcie_width
                                                                             : 0;
  gpu.pcie_gb_per_s = device.link_gb_per_s > 0 ? device.link_gb_per_s : pcie_link_gb_per_s(gpu.pcie_gen, gpu.pcie_width);
  if (driver != nullptr) {
    gpu.memory_bytes = driver->memory_bytes;
    gpu.compute_capability = driver->compute_capability;
    gpu.multiprocessors = driver->multiprocessors;
    gpu.uuid = driver->uuid;
    gpu.serial = driver->serial;
    gpu.nvlink = driver->nvlink;
  }
  if (gpu.compute_capability.empty() && model_info) {
    gpu.compute_capability = std::string(model_info->compute_capability);
  }
  if (gpu.pcie_width > 0 && gpu.pcie_expected_width > gpu.pcie_width) {
    warnings.push_back(fmt::format("GPU {} ({}): PCIe link x{}, expected x{}", gpu.pci_bus_id, gpu.model,
                                   gpu.pcie_width, gpu.pcie_expected_width));
  }
  if (model_info && model_info->nvlink_links > 0 && gpu.nvlink.active_links > 0 &&
      gpu.nvlink.active_links < model_info->nvlink_links) {
    warnings.push_back(fmt::format("GPU {} ({}): {} of {} NVLinks active", gpu.pci_bus_id, gpu.model,
                                   gpu.nvlink.active_links, model_info->nvlink_links));
  }
  const int expected_gen = driver != nullptr && driver->pcie_max_gen > 0 ? driver->pcie_max_gen : 0;
  if (gpu.pcie_gen > 0 && expected_gen > gpu.pcie_gen) {
    warnings.push_back(fmt::format("GPU {} ({}): PCIe Gen{}, expected Gen{}", gpu.pci_bus_id, gpu.model,
                                   gpu.pcie_gen, expected_gen));
  }
  return gpu;
}

NicPort make_port(const VerbsPort& port) {
  NicPort out;
  out.number = port.number;
  out.state = std::string(ib_port_state_name(port.state));
  out.link_layer = std::string(ib_link_layer_name(port.link_layer));
  const auto rate = decode_ib_rate(port.active_width, port.active_speed, port.active_speed_ex);
  out.width = rate.width;
  out.speed = rate.speed;
  out.rate_gbps = rate.gbps;
  out.lid = port.lid;
  return out;
}

Nic make_nic(const HwlocDevice* device, const VerbsDevice& verbs) {
  Nic nic;
  nic.name = verbs.name;
  nic.firmware = verbs.firmware;
  nic.node_guid = verbs.node_guid;
  nic.sys_image_guid = verbs.sys_image_guid;
  for (const auto& port : verbs.ports) {
    nic.ports.push_back(make_port(port));
  }
  if (device != nullptr) {
    nic.pci_bus_id = device->bus_id;
    nic.numa_node = device->numa_node;
    nic.cpus = device->cpus;
    nic.netdevs = device->netdevs;
    const auto known = known_pci_device(device->vendor_id, device->device_id);
    nic.model = known ? std::string(known->name) : device->pci_name;
  }
  return nic;
}

const VerbsDevice* find_verbs(const VerbsScan& scan, const std::string& name) {
  for (const auto& device : scan.devices) {
    if (device.name == name) {
      return &device;
    }
  }
  return nullptr;
}

int switch_links(const Gpu& gpu) {
  for (const auto& peer : gpu.nvlink.peers) {
    if (peer.target == "switch") {
      return peer.links;
    }
  }
  return 0;
}

int nvlinks_between(const Gpu& a, const Gpu& b) {
  for (const auto& peer : a.nvlink.peers) {
    if (peer.target == b.pci_bus_id) {
      return peer.links;
    }
  }
  return std::min(switch_links(a), switch_links(b));
}

void add_port_warnings(NodeReport& report) {
  double best_rate = 0;
  for (const auto& nic : report.nics) {
    if (const auto* port = nic.primary_port(); port != nullptr && nic.compute && port->state == "ACTIVE") {
      best_rate = std::max(best_rate, port->rate_gbps);
    }
  }
  for (const auto& nic : report.nics) {
    for (const auto& port : nic.ports) {
      if (port.state != "ACTIVE") {
        report.warnings.push_back(fmt::format("{}: port {} {}", nic.name, port.number, port.state));
      } else if (nic.compute && port.number == 1 && port.rate_gbps < best_rate) {
        report.warnings.push_back(fmt::format("{}: port {} at {} Gb/s, other compute adapters at {} Gb/s", nic.name,
                                              port.number, port.rate_gbps, best_rate));
      }
    }
  }
}

} // namespace

NodeReport assemble_report(const HwlocScan& scan, const ProbeInputs& inputs, const NodeNaming& naming,
                           const std::string& topology_source) {
  NodeReport report;
  report.topology_source = topology_source;
  const bool from_file = topology_source != "live";
  if (!naming.slurm_node_name.empty()) {
    report.host = naming.slurm_node_name;
    report.host_source = "SLURMD_NODENAME";
  } else {
    report.host = inputs.host.hostname.empty() ? "localhost" : inputs.host.hostname;
    report.host_source = from_file ? "topology file" : "hostname";
  }
  auto& software = report.software;
  software.os = inputs.host.os;
  software.kernel = inputs.host.kernel;
  software.architecture = inputs.host.architecture;
  software.nvidia_driver = !inputs.gpu.driver_version.empty() ? inputs.gpu.driver_version : inputs.host.nvidia_driver;
  software.cuda_driver = inputs.gpu.cuda_driver_version;
  software.cuda_runtime = inputs.gpu.cuda_runtime_version;
  software.nccl = inputs.gpu.nccl_version;
  software.gpudirect_rdma = inputs.host.gpudirect_rdma;
  software.hwloc = get_info(scan.machine_infos, "hwlocVersion");
  report.gpu_status = inputs.gpu.status;
  report.rdma_status = inputs.verbs.status;
  report.packages = scan.packages;
  report.numa_nodes = scan.numa_nodes;
  report.pci = scan.pci;
  report.disks = inputs.host.disks;
  report.warnings = inputs.gpu.warnings;
  report.warnings.insert(report.warnings.end(), scan.problems.begin(), scan.problems.end());
  report.warnings.insert(report.warnings.end(), inputs.verbs.warnings.begin(), inputs.verbs.warnings.end());

  // GPUs: hwloc's PCI view (bus order) enriched by the driver; driver-only GPUs follow.
  std::vector<hwloc_obj_t> gpu_objects;
  for (const auto& device : scan.gpus) {
    const DriverGpu* driver = nullptr;
    for (const auto& candidate : inputs.gpu.gpus) {
      driver = candidate.pci_bus_id == device.bus_id ? &candidate : driver;
    }
    report.gpus.push_back(make_gpu(device, driver, report.warnings));
    gpu_objects.push_back(device.object);
  }
  for (const auto& driver : inputs.gpu.gpus) {
    const bool known = std::any_of(report.gpus.begin(), report.gpus.end(),
                                   [&](const Gpu& gpu) { return gpu.pci_bus_id == driver.pci_bus_id; });
    if (!known) {
      HwlocDevice unseen;
      unseen.bus_id = driver.pci_bus_id;
      report.gpus.push_back(make_gpu(unseen, &driver, report.warnings));
      gpu_objects.push_back(nullptr);
      report.warnings.push_back(fmt::format("GPU {}: reported by the driver but not in the hwloc topology", driver.pci_bus_id));
    }
  }
  for (std::size_t i = 0; i < report.gpus.size(); ++i) {
    report.gpus[i].index = static_cast<int>(i);
  }

  // Adapters: hwloc's OpenFabrics devices with verbs (or, lacking verbs, hwloc's port infos).
  const VerbsScan from_hwloc = verbs_scan_from_topology(scan);
  std::vector<hwloc_obj_t> nic_objects;
  for (const auto& device : scan.nics) {
    const VerbsDevice* verbs = find_verbs(inputs.verbs, device.os_device);
    if (verbs == nullptr) {
      verbs = find_verbs(from_hwloc, device.os_device);
    }
    report.nics.push_back(make_nic(&device, *verbs));
    nic_objects.push_back(device.object);
  }
  for (const auto& verbs : inputs.verbs.devices) {
    if (report.find_nic(verbs.name) == nullptr) {
      report.nics.push_back(make_nic(nullptr, verbs));
      nic_objects.push_back(nullptr);
    }
  }

  const auto classify = [](hwloc_obj_t a, hwloc_obj_t b) {
    return a != nullptr && b != nullptr ? classify_path(a, b) : PathClass::sys;
  };
  const auto hops = [](hwloc_obj_t a, hwloc_obj_t b) { return a != nullptr && b != nullptr ? path_hops(a, b) : 1000; };

  for (std::size_t g = 0; g < report.gpus.size(); ++g) {
    std::vector<std::tuple<int, int, std::size_t>> order;
    for (std::size_t n = 0; n < report.nics.size(); ++n) {
      order.emplace_back(path_class_rank(classify(gpu_objects[g], nic_objects[n])), hops(gpu_objects[g], nic_objects[n]), n);
    }
    // Closest class first, then fewer PCI hops, then the adapters' own (name) order.
    std::sort(order.begin(), order.end());
    for (const auto& [rank, hop_count, n] : order) {
      report.gpus[g].nearest_nics.push_back({report.nics[n].name, static_cast<PathClass>(rank)});
    }
  }
  for (std::size_t n = 0; n < report.nics.size(); ++n) {
    auto& nic = report.nics[n];
    std::tuple<int, int, std::size_t> best{1000, 1000, 0};
    for (std::size_t g = 0; g < report.gpus.size(); ++g) {
      best = std::min(best, {path_class_rank(classify(gpu_objects[g], nic_objects[n])),
                             hops(gpu_objects[g], nic_objects[n]), g});
    }
    if (!report.gpus.empty()) {
      nic.nearest_gpu = static_cast<int>(std::get<2>(best));
      nic.nearest_gpu_path = static_cast<PathClass>(std::get<0>(best));
    }
    nic.compute = nic.nearest_gpu_path == PathClass::pix || nic.nearest_gpu_path == PathClass::pxb;
  }
  // Without GPU-local adapters (a CPU node, or a PCIe server with its adapters on the root
  // complex) every RDMA adapter carries the job's traffic.
  if (std::none_of(report.nics.begin(), report.nics.end(), [](const Nic& nic) { return nic.compute; })) {
    for (auto& nic : report.nics) {
      nic.compute = true;
    }
  }

  report.gpu_pairs.assign(report.gpus.size(), std::vector<GpuPair>(report.gpus.size()));
  for (std::size_t i = 0; i < report.gpus.size(); ++i) {
    for (std::size_t j = 0; j < report.gpus.size(); ++j) {
      if (i != j) {
        report.gpu_pairs[i][j] = {nvlinks_between(report.gpus[i], report.gpus[j]), classify(gpu_objects[i], gpu_objects[j])};
      }
    }
  }
  report.nic_paths.assign(report.nics.size(), std::vector<PathClass>(report.nics.size(), PathClass::pix));
  for (std::size_t i = 0; i < report.nics.size(); ++i) {
    for (std::size_t j = 0; j < report.nics.size(); ++j) {
      if (i != j) {
        report.nic_paths[i][j] = classify(nic_objects[i], nic_objects[j]);
      }
    }
  }
  add_port_warnings(report);
  return report;
}

NodeReport probe_with(const HwlocTopology& topology, GpuDriverSource& gpu, VerbsSource& verbs, HostSource& host,
                      const NodeNaming& naming) {
  const HwlocScan scan = scan_topology(topology);
  const ProbeInputs inputs{gpu.scan(), verbs.scan(), host.facts()};
  return assemble_report(scan, inputs, naming, topology.from_file() ? topology.file() : "live");
}

NodeReport probe_node(const ProbeRequest& request) {
  if (!request.topology_file.empty()) {
    const auto topology = HwlocTopology::load_xml(request.topology_file);
    const HwlocScan scan = scan_topology(topology);
    const ProbeInputs inputs{gpu_scan_from_topology(scan), verbs_scan_from_topology(scan), host_facts_from_topology(scan)};
    return assemble_report(scan, inputs, request.naming, topology.file());
  }
  const auto topology = HwlocTopology::load_live();
  auto gpu = make_system_gpu_driver();
  auto verbs = make_system_verbs();
  auto host = make_sysfs_host(request.root);
  return probe_with(topology, *gpu, *verbs, *host, request.naming);
}

} // namespace brix::probe
