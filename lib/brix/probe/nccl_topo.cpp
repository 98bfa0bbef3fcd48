#include <brix/probe/nccl_topo.hpp>

#include <brix/probe/gpu_models.hpp>
#include <brix/probe/pcie.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <memory>

namespace brix::probe {

std::string cpu_list_to_mask(const std::string& cpus) {
  std::vector<std::uint32_t> words;
  for (const auto& range : util::split(cpus, ',')) {
    if (util::trim(range).empty()) {
      continue;
    }
    const auto parts = util::split(range, '-');
    const auto first = util::parse_int(util::trim(parts.front()));
    const auto last = util::parse_int(util::trim(parts.back()));
    if (!first || !last || *first < 0 || *last < *first) {
      continue;
    }
    for (auto cpu = *first; cpu <= *last; ++cpu) {
      const auto word = static_cast<std::size_t>(cpu / 32);
      words.resize(std::max(words.size(), word + 1), 0);
      words[word] |= 1U << (cpu % 32);
    }
  }
  if (words.empty()) {
    words.push_back(0);
  }
  std::string mask;
  for (auto word = words.rbegin(); word != words.rend(); ++word) {
    mask += fmt::format("{}{:08x}", mask.empty() ? "" : ",", *word);
  }
  return mask;
}

namespace {

constexpr int k_default_max_connections = 131072;

/// One <pci> element of the output: a switch (bridge) or an endpoint.
struct Element {
  const PciNode* pci = nullptr;
  const Gpu* gpu = nullptr;
  const Nic* nic = nullptr;
  int nic_dev = 0;
  std::vector<std::unique_ptr<Element>> children;

  Element* child_for(const PciNode* node) {
    for (auto& child : children) {
      if (child->pci == node) {
        return child.get();
      }
    }
    children.push_back(std::make_unique<Element>());
    children.back()->pci = node;
    return children.back().get();
  }
};

struct Builder {
  const NodeReport& report;
  std::map<int, Element> cpus; ///< by NUMA node

  const Gpu* gpu_at(const std::string& bus_id) const {
    for (const auto& gpu : report.gpus) {
      if (gpu.pci_bus_id == bus_id) {
        return &gpu;
      }
    }
    return nullptr;
  }
  const Nic* nic_at(const std::string& bus_id) const {
    for (const auto& nic : report.nics) {
      if (nic.pci_bus_id == bus_id && !bus_id.empty()) {
        return &nic;
      }
    }
    return nullptr;
  }

  /// `bridges`: the PCI bridges above `node`, top-down, host bridges excluded.
  void walk(const PciNode& node, std::vector<const PciNode*>& bridges, int numa) {
    if (node.kind == "device") {
      const Gpu* gpu = gpu_at(node.bus_id);
      const Nic* nic = nic_at(node.bus_id);
      if (gpu == nullptr && nic == nullptr) {
        return;
      }
      // NCCL's sysfs walk climbs two levels per step (downstream + upstream port of a switch)
      // and stops at the root complex: keep bridges n-2, n-4, … down to index 1.
      std::vector<const PciNode*> kept;
      for (int i = static_cast<int>(bridges.size()) - 2; i >= 1; i -= 2) {
        kept.insert(kept.begin(), bridges[static_cast<std::size_t>(i)]);
      }
      const int cpu_numa = gpu != nullptr && gpu->numa_node >= 0 ? gpu->numa_node
                           : nic != nullptr && nic->numa_node >= 0 ? nic->numa_node
                                                                    : std::max(numa, 0);
      Element* parent = &cpus[cpu_numa];
      for (const PciNode* bridge : kept) {
        parent = parent->child_for(bridge);
      }
      Element* leaf = parent->child_for(&node);
      leaf->gpu = gpu;
      leaf->nic = nic;
      return;
    }
    if (node.kind == "bridge") {
      bridges.push_back(&node);
    }
    for (const auto& child : node.children) {
      walk(child, bridges, numa);
    }
    if (node.kind == "bridge") {
      bridges.pop_back();
    }
  }
};

std::string pci_attributes(const PciNode& node, int gen, int width) {
  return fmt::format(R"(busid="{}" class="0x{:04x}00" vendor="0x{:04x}" device="0x{:04x}" subsystem_vendor="0x{:04x}")"
                     R"( subsystem_device="0x{:04x}" link_speed="{}" link_width="{}")",
                     node.bus_id, node.class_id, node.vendor_id, node.device_id, node.subvendor_id, node.subdevice_id,
                     gen > 0 ? pcie_speed_text(gen) : "", width);
}

int compute_capability_code(const Gpu& gpu) {
  std::string capability = gpu.compute_capability;
  if (capability.empty()) {
    if (const auto info = gpu_model_info(gpu.model)) {
      capability = std::string(info->compute_capability);
    }
  }
  const auto parts = util::split(capability, '.');
  if (parts.size() != 2) {
    return 0;
  }
  return static_cast<int>(util::parse_int(parts[0]).value_or(0) * 10 + util::parse_int(parts[1]).value_or(0));
}

void write_element(const Element& element, const NodeReport& report, int indent, std::string& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  const PciNode& node = *element.pci;
  PcieLink link;
  if (element.gpu != nullptr && element.gpu->pcie_width > 0) {
    link = {element.gpu->pcie_gen, element.gpu->pcie_width};
  } else {
    const auto known = known_pci_device(node.vendor_id, node.device_id);
    link = decode_pcie_link(node.link_gb_per_s, known ? known->pcie_gen : 0);
  }
  out += fmt::format("{}<pci {}>\n", pad, pci_attributes(node, link.gen, link.width));
  if (const Gpu* gpu = element.gpu) {
    out += fmt::format(R"({}  <gpu dev="{}" sm="{}" rank="{}" gdr="1")", pad, gpu->index, compute_capability_code(*gpu),
                       gpu->index);
    if (gpu->nvlink.peers.empty()) {
      out += "/>\n";
    } else {
      out += ">\n";
      for (const auto& peer : gpu->nvlink.peers) {
        // NVSwitch links are written as NCCL writes them: a fake bus id and the NVSwitch class.
        const bool nvswitch = peer.target == "switch" || peer.target == "unknown";
        out += fmt::format(R"({}    <nvlink target="{}" count="{}" tclass="{}"/>)"
                           "\n",
                           pad, nvswitch ? "fffffff:ffff:ff" : peer.target, peer.links,
                           nvswitch ? "0x068000" : "0x030200");
      }
      out += fmt::format("{}  </gpu>\n", pad);
    }
  }
  if (const Nic* nic = element.nic) {
    out += fmt::format("{}  <nic>\n", pad);
    const NicPort* port = nic->primary_port();
    std::string guid = nic->node_guid;
    guid.erase(std::remove(guid.begin(), guid.end(), ':'), guid.end());
    std::string attributes = fmt::format(R"(name="{}" dev="{}" speed="{}" port="{}" latency="0.000000")", nic->name,
                                         element.nic_dev,
                                         port != nullptr ? static_cast<long long>(port->rate_gbps * 1000) : 0,
                                         port != nullptr ? port->number : 1);
    if (!guid.empty()) {
      attributes += fmt::format(R"( guid="0x{}")", guid);
    }
    // NCCL fills maxconn from the verbs device's max_qp; mlx5 adapters report 131072 and NCCL's
    // own topology dumps show that value.
    attributes += fmt::format(R"( maxconn="{}")", k_default_max_connections);
    // gdr only when the peer-memory module was seen; otherwise NCCL detects it itself.
    if (!report.software.gpudirect_rdma.empty()) {
      attributes += R"( gdr="1")";
    }
    out += fmt::format("{}    <net {}/>\n", pad, attributes);
    out += fmt::format("{}  </nic>\n", pad);
  }
  for (const auto& child : element.children) {
    write_element(*child, report, indent + 2, out);
  }
  out += fmt::format("{}</pci>\n", pad);
}

const CpuPackage* package_of_numa(const NodeReport& report, int numa) {
  for (const auto& package : report.packages) {
    if (std::find(package.numa_nodes.begin(), package.numa_nodes.end(), numa) != package.numa_nodes.end()) {
      return &package;
    }
  }
  return report.packages.empty() ? nullptr : &report.packages.front();
}

void number_nets(Element& element, std::map<std::string, int>& devs) {
  if (element.nic != nullptr) {
    element.nic_dev = devs.at(element.nic->name);
  }
  for (auto& child : element.children) {
    number_nets(*child, devs);
  }
}

} // namespace

std::string nccl_topology_xml(const NodeReport& report) {
  Builder builder{report, {}};
  for (const auto& root : report.pci) {
    std::vector<const PciNode*> bridges;
    builder.walk(root, bridges, root.numa_node);
  }
  // NCCL's IB plugin numbers devices in name order; NCCL overwrites dev for devices it finds.
  std::map<std::string, int> devs;
  for (std::size_t n = 0; n < report.nics.size(); ++n) {
    devs[report.nics[n].name] = static_cast<int>(n);
  }
  if (builder.cpus.empty()) {
    // No GPU or adapter on the PCI tree: still describe the CPUs, one element per NUMA node.
    for (const auto& node : report.numa_nodes) {
      builder.cpus[node.index];
    }
    if (builder.cpus.empty()) {
      builder.cpus[0];
    }
  }
  std::string out = "<system version=\"1\">\n";
  for (auto& [numa, cpu] : builder.cpus) {
    number_nets(cpu, devs);
    std::string cpus;
    for (const auto& node : report.numa_nodes) {
      cpus = node.index == numa ? node.cpus : cpus;
    }
    const CpuPackage* package = package_of_numa(report, numa);
    std::string attributes = fmt::format(R"(numaid="{}" affinity="{}" arch="{}")", numa, cpu_list_to_mask(cpus),
                                         report.software.architecture.empty() ? "x86_64" : report.software.architecture);
    if (package != nullptr && !package->vendor.empty()) {
      attributes += fmt::format(R"( vendor="{}")", package->vendor);
    }
    if (package != nullptr && package->family >= 0 && package->model_number >= 0) {
      attributes += fmt::format(R"( familyid="{}" modelid="{}")", package->family, package->model_number);
    }
    out += fmt::format("  <cpu {}>\n", attributes);
    for (const auto& child : cpu.children) {
      write_element(*child, report, 4, out);
    }
    out += "  </cpu>\n";
  }
  out += "</system>\n";
  return out;
}

} // namespace brix::probe
