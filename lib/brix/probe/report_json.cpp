#include <brix/probe/report_json.hpp>

#include <fmt/format.h>

namespace brix::probe {

using Json = nlohmann::ordered_json;

namespace {

Json text(const std::string& value) { return value.empty() ? Json(nullptr) : Json(value); }
Json index_or_null(int value) { return value >= 0 ? Json(value) : Json(nullptr); }

Json pci_to_json(const PciNode& node) {
  Json out{{"kind", node.kind}, {"bus_id", node.bus_id}};
  if (node.kind != "host_bridge") {
    out["class"] = fmt::format("0x{:04x}", node.class_id);
    out["vendor"] = fmt::format("0x{:04x}", node.vendor_id);
    out["device"] = fmt::format("0x{:04x}", node.device_id);
    out["subsystem_vendor"] = fmt::format("0x{:04x}", node.subvendor_id);
    out["subsystem_device"] = fmt::format("0x{:04x}", node.subdevice_id);
    out["link_gb_per_s"] = node.link_gb_per_s;
  }
  out["name"] = text(node.name);
  if (!node.os_devices.empty()) {
    out["os_devices"] = node.os_devices;
  }
  if (node.numa_node >= 0) {
    out["numa_node"] = node.numa_node;
  }
  if (!node.children.empty()) {
    Json children = Json::array();
    for (const auto& child : node.children) {
      children.push_back(pci_to_json(child));
    }
    out["children"] = std::move(children);
  }
  return out;
}

Json port_to_json(const NicPort& port) {
  return {{"number", port.number},    {"state", port.state}, {"link_layer", port.link_layer},
          {"width", text(port.width)}, {"speed", text(port.speed)}, {"rate_gbps", port.rate_gbps},
          {"lid", text(port.lid)}};
}

} // namespace

std::string gpu_pair_cell(const GpuPair& pair) {
  return pair.nvlinks > 0 ? fmt::format("NV{}", pair.nvlinks) : std::string(path_class_name(pair.path));
}

Json report_to_json(const NodeReport& report) {
  Json out;
  out["brix_probe"] = k_report_version;
  out["host"] = report.host;
  out["host_source"] = report.host_source;
  out["topology_source"] = report.topology_source;
  out["status"] = {{"gpu", report.gpu_status}, {"rdma", report.rdma_status}};
  const auto& sw = report.software;
  out["software"] = {{"os", text(sw.os)},
                     {"kernel", text(sw.kernel)},
                     {"architecture", text(sw.architecture)},
                     {"nvidia_driver", text(sw.nvidia_driver)},
                     {"cuda_driver", text(sw.cuda_driver)},
                     {"cuda_runtime", text(sw.cuda_runtime)},
                     {"nccl", text(sw.nccl)},
                     {"hwloc", text(sw.hwloc)},
                     {"gpudirect_rdma", text(sw.gpudirect_rdma)}};
  out["cpu"] = {{"packages", report.packages.size()},
                {"model", report.packages.empty() ? Json(nullptr) : text(report.packages.front().model)},
                {"cores", report.cores()},
                {"threads", report.threads()},
                {"numa_nodes", report.numa_nodes.size()},
                {"memory_bytes", report.memory_bytes()}};
  Json packages = Json::array();
  for (const auto& package : report.packages) {
    packages.push_back({{"index", package.index},
                        {"vendor", text(package.vendor)},
                        {"model", text(package.model)},
                        {"family", index_or_null(package.family)},
                        {"model_number", index_or_null(package.model_number)},
                        {"cores", package.cores},
                        {"threads", package.threads},
                        {"cpus", package.cpus},
                        {"numa_nodes", package.numa_nodes}});
  }
  out["packages"] = std::move(packages);
  Json numa = Json::array();
  for (const auto& node : report.numa_nodes) {
    numa.push_back({{"index", node.index}, {"memory_bytes", node.memory_bytes}, {"cpus", node.cpus}});
  }
  out["numa_nodes"] = std::move(numa);

  Json gpus = Json::array();
  for (const auto& gpu : report.gpus) {
    Json nearest = Json::array();
    for (const auto& nic : gpu.nearest_nics) {
      nearest.push_back({{"name", nic.name}, {"path", path_class_name(nic.path)}});
    }
    Json peers = Json::array();
    for (const auto& peer : gpu.nvlink.peers) {
      peers.push_back({{"target", peer.target}, {"links", peer.links}});
    }
    gpus.push_back({{"index", gpu.index},
                    {"model", gpu.model},
                    {"pci_bus_id", gpu.pci_bus_id},
                    {"numa_node", index_or_null(gpu.numa_node)},
                    {"cpus", text(gpu.cpus)},
                    {"pcie_gen", gpu.pcie_gen},
                    {"pcie_width", gpu.pcie_width},
                    {"pcie_expected_width", gpu.pcie_expected_width},
                    {"pcie_gb_per_s", gpu.pcie_gb_per_s},
                    {"memory_bytes", gpu.memory_bytes},
                    {"compute_capability", text(gpu.compute_capability)},
                    {"multiprocessors", gpu.multiprocessors},
                    {"uuid", text(gpu.uuid)},
                    {"serial", text(gpu.serial)},
                    {"nvlink",
                     {{"version", gpu.nvlink.version},
                      {"active_links", gpu.nvlink.active_links},
                      {"gb_per_s", gpu.nvlink.gb_per_s},
                      {"peers", std::move(peers)}}},
                    {"nearest_nics", std::move(nearest)}});
  }
  out["gpus"] = std::move(gpus);

  Json nics = Json::array();
  for (const auto& nic : report.nics) {
    const NicPort* port = nic.primary_port();
    Json ports = Json::array();
    for (const auto& each : nic.ports) {
      ports.push_back(port_to_json(each));
    }
    Json nearest_gpu = nic.nearest_gpu >= 0 ? Json{{"index", nic.nearest_gpu}, {"path", path_class_name(nic.nearest_gpu_path)}}
                                            : Json(nullptr);
    nics.push_back({{"name", nic.name},
                    {"port_state", port != nullptr ? Json(port->state) : Json(nullptr)},
                    {"link_layer", port != nullptr ? Json(port->link_layer) : Json(nullptr)},
                    {"rate_gbps", port != nullptr ? port->rate_gbps : 0.0},
                    {"firmware", text(nic.firmware)},
                    {"pci_bus_id", text(nic.pci_bus_id)},
                    {"model", text(nic.model)},
                    {"numa_node", index_or_null(nic.numa_node)},
                    {"cpus", text(nic.cpus)},
                    {"node_guid", text(nic.node_guid)},
                    {"sys_image_guid", text(nic.sys_image_guid)},
                    {"netdevs", nic.netdevs},
                    {"ports", std::move(ports)},
                    {"nearest_gpu", std::move(nearest_gpu)},
                    {"compute", nic.compute}});
  }
  out["nics"] = std::move(nics);

  Json disks = Json::array();
  for (const auto& disk : report.disks) {
    disks.push_back({{"name", disk.name},
                     {"model", text(disk.model)},
                     {"firmware", text(disk.firmware)},
                     {"serial", text(disk.serial)},
                     {"size_bytes", disk.size_bytes},
                     {"transport", text(disk.transport)},
                     {"pci_bus_id", text(disk.pci_bus_id)}});
  }
  out["disks"] = std::move(disks);

  Json gpu_paths = Json::array();
  for (std::size_t i = 0; i < report.gpu_pairs.size(); ++i) {
    Json row = Json::array();
    for (std::size_t j = 0; j < report.gpu_pairs[i].size(); ++j) {
      row.push_back(i == j ? "X" : gpu_pair_cell(report.gpu_pairs[i][j]) +
                                       (report.gpu_pairs[i][j].nvlinks > 0
                                            ? "/" + std::string(path_class_name(report.gpu_pairs[i][j].path))
                                            : ""));
    }
    gpu_paths.push_back(std::move(row));
  }
  Json nic_paths = Json::array();
  for (std::size_t i = 0; i < report.nic_paths.size(); ++i) {
    Json row = Json::array();
    for (std::size_t j = 0; j < report.nic_paths[i].size(); ++j) {
      row.push_back(i == j ? std::string("X") : std::string(path_class_name(report.nic_paths[i][j])));
    }
    nic_paths.push_back(std::move(row));
  }
  out["gpu_paths"] = std::move(gpu_paths);
  out["nic_paths"] = std::move(nic_paths);
  Json pci = Json::array();
  for (const auto& node : report.pci) {
    pci.push_back(pci_to_json(node));
  }
  out["pci"] = std::move(pci);
  out["warnings"] = report.warnings;
  return out;
}

} // namespace brix::probe
