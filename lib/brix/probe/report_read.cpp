// Reading a node report back (`brix probe merge`, `brix shard --nodes`): the inverse of
// report_to_json, with every complaint at its file and line.

#include <brix/probe/report_json.hpp>
#include <brix/util/cpu_list.hpp>
#include <brix/util/host_name.hpp>
#include <brix/util/strings.hpp>

#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <set>

namespace brix::probe {

namespace {

using util::DocNode;

std::string str(const DocNode& node, std::string_view key) { return node.string_or(key, ""); }
int integer(const DocNode& node, std::string_view key, int fallback = 0) {
  const auto value = node.int_or(key, fallback);
  if (value < std::numeric_limits<int>::min() / 2 || value > std::numeric_limits<int>::max() / 2) {
    node.at(key).fail(fmt::format("{} is out of range (got {})", key, value), "a count or index of a node's devices");
  }
  return static_cast<int>(value);
}
/// Link rates and bandwidths: absent is 0, present must be a finite number >= 0.
double rate(const DocNode& node, std::string_view key) {
  const auto child = node.find(key);
  if (!child) {
    return 0.0;
  }
  const double value = child->as_double();
  if (!std::isfinite(value) || value < 0) {
    child->fail(fmt::format("{} must be a finite number >= 0 (got {})", key, value), "a rate in GB/s or Gb/s");
  }
  return value;
}
/// A Linux CPU list ("0-55,112-167"); absent is "".
std::string cpus(const DocNode& node, std::string_view key) {
  const auto text = str(node, key);
  if (!util::parse_cpu_list(text)) {
    node.at(key).fail(fmt::format("{} '{}' is not a CPU list", key, util::printable(text)), "like 0-55,112-167");
  }
  return text;
}

std::uint64_t bytes(const DocNode& node, std::string_view key) {
  return static_cast<std::uint64_t>(node.find(key) ? node.at(key).as_non_negative_int(key) : 0);
}

std::vector<DocNode> list(const DocNode& node, std::string_view key) {
  const auto child = node.find(key);
  return child ? child->elements() : std::vector<DocNode>{};
}

std::vector<std::string> strings(const DocNode& node, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& item : list(node, key)) {
    out.push_back(item.as_string());
  }
  return out;
}

PathClass path_of(const DocNode& node, std::string_view key) {
  const DocNode value = node.at(key);
  const auto path = parse_path_class(value.as_string());
  if (!path) {
    value.fail(fmt::format("unknown path class '{}'", value.as_string()), "PIX, PXB, PHB, NODE or SYS");
  }
  return *path;
}

int hex_id(const DocNode& node, std::string_view key) {
  const auto child = node.find(key);
  if (!child) {
    return 0;
  }
  const std::string text = child->as_string();
  try {
    return static_cast<int>(std::stoul(text, nullptr, 16));
  } catch (const std::exception&) {
    child->fail(fmt::format("'{}' is not a hexadecimal id", text), "like 0x10de");
  }
}

PciNode read_pci(const DocNode& node) {
  PciNode pci;
  pci.kind = node.at("kind").as_string();
  pci.bus_id = node.at("bus_id").as_string();
  pci.class_id = hex_id(node, "class");
  pci.vendor_id = hex_id(node, "vendor");
  pci.device_id = hex_id(node, "device");
  pci.subvendor_id = hex_id(node, "subsystem_vendor");
  pci.subdevice_id = hex_id(node, "subsystem_device");
  pci.link_gb_per_s = rate(node, "link_gb_per_s");
  pci.name = str(node, "name");
  pci.os_devices = strings(node, "os_devices");
  pci.numa_node = integer(node, "numa_node", -1);
  for (const auto& child : list(node, "children")) {
    pci.children.push_back(read_pci(child));
  }
  return pci;
}

Gpu read_gpu(const DocNode& node) {
  Gpu gpu;
  gpu.index = static_cast<int>(node.at("index").as_non_negative_int("index"));
  gpu.model = node.at("model").as_string();
  gpu.pci_bus_id = str(node, "pci_bus_id");
  gpu.numa_node = integer(node, "numa_node", -1);
  gpu.cpus = cpus(node, "cpus");
  gpu.pcie_gen = integer(node, "pcie_gen");
  gpu.pcie_width = integer(node, "pcie_width");
  gpu.pcie_expected_width = integer(node, "pcie_expected_width");
  gpu.pcie_gb_per_s = rate(node, "pcie_gb_per_s");
  gpu.memory_bytes = bytes(node, "memory_bytes");
  gpu.compute_capability = str(node, "compute_capability");
  gpu.multiprocessors = integer(node, "multiprocessors");
  gpu.uuid = str(node, "uuid");
  gpu.serial = str(node, "serial");
  if (const auto nvlink = node.find("nvlink")) {
    gpu.nvlink.version = integer(*nvlink, "version");
    gpu.nvlink.active_links = integer(*nvlink, "active_links");
    gpu.nvlink.gb_per_s = rate(*nvlink, "gb_per_s");
    for (const auto& peer : list(*nvlink, "peers")) {
      gpu.nvlink.peers.push_back({peer.at("target").as_string(), integer(peer, "links")});
    }
  }
  for (const auto& nic : list(node, "nearest_nics")) {
    gpu.nearest_nics.push_back({nic.at("name").as_string(), path_of(nic, "path")});
  }
  return gpu;
}

Nic read_nic(const DocNode& node) {
  Nic nic;
  nic.name = node.at("name").as_string();
  nic.firmware = str(node, "firmware");
  nic.pci_bus_id = str(node, "pci_bus_id");
  nic.model = str(node, "model");
  nic.numa_node = integer(node, "numa_node", -1);
  nic.cpus = cpus(node, "cpus");
  nic.node_guid = str(node, "node_guid");
  nic.sys_image_guid = str(node, "sys_image_guid");
  nic.netdevs = strings(node, "netdevs");
  for (const auto& port : list(node, "ports")) {
    nic.ports.push_back({integer(port, "number", 1), str(port, "state"), str(port, "link_layer"), str(port, "width"),
                         str(port, "speed"), rate(port, "rate_gbps"), str(port, "lid")});
  }
  const double summary_rate = rate(node, "rate_gbps"); // checked even when ports give the rate
  if (nic.ports.empty() && node.find("port_state")) {
    // A hand-written report may give only the summary keys. A null port_state is what the writer
    // puts for an adapter without ports: no port to invent (fuzz.probe_report's round trip).
    nic.ports.push_back({1, str(node, "port_state"), str(node, "link_layer"), "", "", summary_rate, ""});
  }
  if (const auto nearest = node.find("nearest_gpu")) {
    nic.nearest_gpu = integer(*nearest, "index", -1);
    nic.nearest_gpu_path = path_of(*nearest, "path");
  }
  nic.compute = node.bool_or("compute", false);
  return nic;
}

std::vector<std::vector<std::string>> matrix(const DocNode& node, std::string_view key) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : list(node, key)) {
    std::vector<std::string> cells;
    for (const auto& cell : row.elements()) {
      cells.push_back(cell.as_string());
    }
    rows.push_back(std::move(cells));
  }
  return rows;
}

GpuPair parse_gpu_cell(const DocNode& where, const std::string& cell) {
  GpuPair pair;
  std::string path = cell;
  if (util::starts_with(cell, "NV")) {
    const auto slash = cell.find('/');
    pair.nvlinks = static_cast<int>(util::parse_int(cell.substr(2, slash - 2)).value_or(0));
    path = slash == std::string::npos ? "SYS" : cell.substr(slash + 1);
  }
  const auto parsed = parse_path_class(path);
  if (!parsed) {
    where.fail(fmt::format("unknown GPU path '{}'", cell), "X, PIX, PXB, PHB, NODE, SYS or NV<n>/<class>");
  }
  pair.path = *parsed;
  return pair;
}

} // namespace

NodeReport report_from_doc(const DocNode& node) {
  if (!node.is_map()) {
    node.fail("expected a node report", "a mapping written by `brix probe`");
  }
  const auto version = node.at("brix_probe").as_int();
  if (version != k_report_version) {
    node.at("brix_probe").fail(fmt::format("unsupported node report version {}", version),
                               fmt::format("version {}", k_report_version));
  }
  NodeReport report;
  report.host = node.at("host").as_string();
  if (!util::is_host_name(report.host)) {
    node.at("host").fail(fmt::format("host '{}' is not a host name", util::printable(report.host)),
                         "letters, digits, '.', '-' and '_', as in a DNS name");
  }
  report.host_source = str(node, "host_source");
  report.topology_source = str(node, "topology_source");
  if (const auto status = node.find("status")) {
    report.gpu_status = str(*status, "gpu");
    report.rdma_status = str(*status, "rdma");
  }
  if (const auto sw = node.find("software")) {
    report.software = {str(*sw, "os"),   str(*sw, "kernel"), str(*sw, "architecture"),
                       str(*sw, "nvidia_driver"), str(*sw, "cuda_driver"), str(*sw, "cuda_runtime"),
                       str(*sw, "nccl"), str(*sw, "hwloc"), str(*sw, "gpudirect_rdma")};
  }
  for (const auto& item : list(node, "packages")) {
    CpuPackage package;
    package.index = integer(item, "index");
    package.vendor = str(item, "vendor");
    package.model = str(item, "model");
    package.family = integer(item, "family", -1);
    package.model_number = integer(item, "model_number", -1);
    package.cores = integer(item, "cores");
    package.threads = integer(item, "threads");
    package.cpus = cpus(item, "cpus");
    for (const auto& numa : list(item, "numa_nodes")) {
      package.numa_nodes.push_back(static_cast<int>(numa.as_int()));
    }
    report.packages.push_back(std::move(package));
  }
  for (const auto& item : list(node, "numa_nodes")) {
    report.numa_nodes.push_back({integer(item, "index"), bytes(item, "memory_bytes"), cpus(item, "cpus")});
  }
  // GPUs are found by index and adapters by name (NCCL_IB_HCA, nearest_nics): each once.
  std::set<int> gpu_indexes;
  for (const auto& item : list(node, "gpus")) {
    report.gpus.push_back(read_gpu(item));
    if (!gpu_indexes.insert(report.gpus.back().index).second) {
      item.at("index").fail(fmt::format("GPU index {} appears twice", report.gpus.back().index), "each GPU once");
    }
  }
  std::set<std::string> nic_names;
  for (const auto& item : list(node, "nics")) {
    report.nics.push_back(read_nic(item));
    if (!nic_names.insert(report.nics.back().name).second) {
      item.at("name").fail(fmt::format("adapter {} appears twice", util::printable(report.nics.back().name)),
                           "each adapter once");
    }
  }
  for (const auto& item : list(node, "disks")) {
    report.disks.push_back({item.at("name").as_string(), str(item, "model"), str(item, "firmware"), str(item, "serial"),
                            bytes(item, "size_bytes"), str(item, "transport"), str(item, "pci_bus_id")});
  }
  const auto gpu_rows = matrix(node, "gpu_paths");
  report.gpu_pairs.assign(report.gpus.size(), std::vector<GpuPair>(report.gpus.size()));
  for (std::size_t i = 0; i < gpu_rows.size() && i < report.gpus.size(); ++i) {
    for (std::size_t j = 0; j < gpu_rows[i].size() && j < report.gpus.size(); ++j) {
      if (i != j) {
        report.gpu_pairs[i][j] = parse_gpu_cell(node.at("gpu_paths"), gpu_rows[i][j]);
      }
    }
  }
  const auto nic_rows = matrix(node, "nic_paths");
  report.nic_paths.assign(report.nics.size(), std::vector<PathClass>(report.nics.size(), PathClass::pix));
  for (std::size_t i = 0; i < nic_rows.size() && i < report.nics.size(); ++i) {
    for (std::size_t j = 0; j < nic_rows[i].size() && j < report.nics.size(); ++j) {
      if (i != j) {
        const auto path = parse_path_class(nic_rows[i][j]);
        if (!path) {
          node.at("nic_paths").fail(fmt::format("unknown adapter path '{}'", nic_rows[i][j]), "PIX, PXB, PHB, NODE or SYS");
        }
        report.nic_paths[i][j] = *path;
      }
    }
  }
  for (const auto& item : list(node, "pci")) {
    report.pci.push_back(read_pci(item));
  }
  report.warnings = strings(node, "warnings");
  return report;
}

} // namespace brix::probe
