#include <brix/probe/hwloc_scan.hpp>

#include <brix/probe/pcie.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <type_traits>

namespace brix::probe {

namespace {

/// hwloc keeps link speeds as floats (63.015384674…); three decimals of GB/s are what it means.
/// A speed that is not a finite number >= 0 (a damaged file) is unknown, 0: check_pci_tree says so.
double link_speed(float gb_per_s) {
  if (!std::isfinite(gb_per_s) || gb_per_s < 0) {
    return 0;
  }
  return std::round(static_cast<double>(gb_per_s) * 1000.0) / 1000.0;
}

std::int64_t int_or(const std::string& text, std::int64_t fallback) {
  return util::parse_int(util::trim(text)).value_or(fallback);
}

bool is_io(hwloc_obj_t object) {
  return object->type == HWLOC_OBJ_BRIDGE || object->type == HWLOC_OBJ_PCI_DEVICE ||
         object->type == HWLOC_OBJ_OS_DEVICE;
}

/// An enum field of an hwloc object, read as the integer hwloc stored: its XML import stores
/// whatever number `bridge_type="A-B"` or `osdev_type="N"` gives, and loading a number outside
/// the enum as the enum is undefined behaviour (fuzz.hwloc_xml, UBSan). Such a bridge side is
/// neither host nor PCI; such an OS device is of no type brix reads.
template <typename Enum>
int stored(const Enum& field) {
  static_assert(std::is_enum_v<Enum> && sizeof(Enum) == sizeof(int));
  int value = 0;
  std::memcpy(&value, &field, sizeof value);
  return value;
}
int bridge_side(const hwloc_obj_bridge_type_t& side) { return stored(side); }
int osdev_type(hwloc_obj_t object) { return stored(object->attr->osdev.type); }

bool is_host_bridge(hwloc_obj_t object) {
  return object->type == HWLOC_OBJ_BRIDGE && bridge_side(object->attr->bridge.upstream_type) == HWLOC_OBJ_BRIDGE_HOST;
}

/// The pcidev attributes of a PCI device or of a PCI-to-PCI bridge's upstream side.
const hwloc_obj_attr_u::hwloc_pcidev_attr_s* pci_attr(hwloc_obj_t object) {
  if (object->type == HWLOC_OBJ_PCI_DEVICE) {
    return &object->attr->pcidev;
  }
  if (object->type == HWLOC_OBJ_BRIDGE && bridge_side(object->attr->bridge.upstream_type) == HWLOC_OBJ_BRIDGE_PCI) {
    return &object->attr->bridge.upstream.pci;
  }
  return nullptr;
}

hwloc_obj_t non_io_ancestor(hwloc_obj_t object) {
  while (object != nullptr && object->cpuset == nullptr) {
    object = object->parent;
  }
  return object;
}

/// Parents of `object` that are I/O objects, nearest first.
std::vector<hwloc_obj_t> io_ancestors(hwloc_obj_t object) {
  std::vector<hwloc_obj_t> chain;
  for (hwloc_obj_t parent = object->parent; parent != nullptr && is_io(parent); parent = parent->parent) {
    chain.push_back(parent);
  }
  return chain;
}

std::string info(hwloc_obj_t object, const char* name) {
  const char* value = hwloc_obj_get_info_by_name(object, name);
  return value != nullptr ? value : "";
}

void add_infos(InfoMap& infos, hwloc_obj_t object) {
  for (unsigned i = 0; i < object->infos_count; ++i) {
    infos.emplace(object->infos[i].name, object->infos[i].value);
  }
}

int numa_of(hwloc_obj_t locality) {
  if (locality == nullptr || locality->nodeset == nullptr || hwloc_bitmap_weight(locality->nodeset) != 1) {
    return -1;
  }
  return hwloc_bitmap_first(locality->nodeset);
}

HwlocDevice describe(hwloc_obj_t object) {
  HwlocDevice device;
  device.object = object;
  if (const auto* attr = pci_attr(object)) {
    device.bus_id = pci_bus_id(object);
    device.vendor_id = attr->vendor_id;
    device.device_id = attr->device_id;
    device.class_id = attr->class_id;
    device.link_gb_per_s = link_speed(attr->linkspeed);
    device.pci_name = info(object, "PCIDevice");
  }
  const hwloc_obj_t locality = non_io_ancestor(object);
  device.numa_node = numa_of(locality);
  if (locality != nullptr) {
    device.cpus = cpu_list(locality->cpuset);
  }
  return device;
}

const hwloc_obj_attr_u::hwloc_pcidev_attr_s k_no_pci_attributes{};

PciNode pci_node(hwloc_obj_t object) {
  PciNode node;
  if (is_host_bridge(object)) {
    node.kind = "host_bridge";
    const auto& down = object->attr->bridge.downstream.pci;
    node.bus_id = fmt::format("{:04x}:[{:02x}-{:02x}]", down.domain, down.secondary_bus, down.subordinate_bus);
  } else {
    node.kind = object->type == HWLOC_OBJ_BRIDGE ? "bridge" : "device";
    const auto* attr = pci_attr(object);
    if (attr == nullptr) {
      // A bridge whose upstream side is neither host nor PCI (a damaged bridge_type): nothing
      // PCI to show for it; its children still are.
      attr = &k_no_pci_attributes;
    }
    node.bus_id = pci_bus_id(object);
    node.class_id = attr->class_id;
    node.vendor_id = attr->vendor_id;
    node.device_id = attr->device_id;
    node.subvendor_id = attr->subvendor_id;
    node.subdevice_id = attr->subdevice_id;
    node.link_gb_per_s = link_speed(attr->linkspeed);
    node.name = info(object, "PCIDevice");
    if (node.name.empty()) {
      if (auto known = known_pci_device(attr->vendor_id, attr->device_id)) {
        node.name = std::string(known->name);
      }
    }
  }
  for (hwloc_obj_t child = object->io_first_child; child != nullptr; child = child->next_sibling) {
    if (child->type == HWLOC_OBJ_OS_DEVICE) {
      node.os_devices.emplace_back(child->name != nullptr ? child->name : "");
    } else {
      node.children.push_back(pci_node(child));
    }
  }
  return node;
}

/// Top-level PCI objects hang under normal (non-I/O) objects; walk those.
void collect_pci_roots(hwloc_obj_t object, std::vector<PciNode>& roots) {
  for (hwloc_obj_t child = object->io_first_child; child != nullptr; child = child->next_sibling) {
    if (child->type == HWLOC_OBJ_OS_DEVICE) {
      continue;
    }
    auto node = pci_node(child);
    node.numa_node = numa_of(object);
    roots.push_back(std::move(node));
  }
  for (hwloc_obj_t child = object->first_child; child != nullptr; child = child->next_sibling) {
    collect_pci_roots(child, roots);
  }
}

std::vector<CpuPackage> packages_of(hwloc_topology_t topology) {
  std::vector<CpuPackage> packages;
  const int count = hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_PACKAGE);
  for (int i = 0; i < std::max(count, 1); ++i) {
    // Without Package objects (some VMs), the machine stands for one package.
    hwloc_obj_t object = count > 0 ? hwloc_get_obj_by_type(topology, HWLOC_OBJ_PACKAGE, static_cast<unsigned>(i))
                                   : hwloc_get_root_obj(topology);
    CpuPackage package;
    package.index = count > 0 ? static_cast<int>(object->os_index) : 0;
    package.vendor = info(object, "CPUVendor");
    package.model = info(object, "CPUModel");
    package.family = static_cast<int>(int_or(info(object, "CPUFamilyNumber"), -1));
    package.model_number = static_cast<int>(int_or(info(object, "CPUModelNumber"), -1));
    package.cores = hwloc_get_nbobjs_inside_cpuset_by_type(topology, object->cpuset, HWLOC_OBJ_CORE);
    package.threads = hwloc_get_nbobjs_inside_cpuset_by_type(topology, object->cpuset, HWLOC_OBJ_PU);
    package.cpus = cpu_list(object->cpuset);
    if (object->nodeset != nullptr) {
      for (int node = hwloc_bitmap_first(object->nodeset); node >= 0;
           node = hwloc_bitmap_next(object->nodeset, node)) {
        package.numa_nodes.push_back(node);
      }
    }
    packages.push_back(std::move(package));
  }
  return packages;
}

std::vector<NumaNode> numa_nodes_of(hwloc_topology_t topology) {
  std::vector<NumaNode> nodes;
  const int count = hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < count; ++i) {
    hwloc_obj_t object = hwloc_get_obj_by_type(topology, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
    nodes.push_back({static_cast<int>(object->os_index), object->attr->numanode.local_memory, cpu_list(object->cpuset)});
  }
  return nodes;
}

hwloc_obj_t pci_parent(hwloc_obj_t osdev) {
  hwloc_obj_t parent = osdev->parent;
  while (parent != nullptr && parent->type == HWLOC_OBJ_OS_DEVICE) {
    parent = parent->parent;
  }
  return parent != nullptr && parent->type == HWLOC_OBJ_PCI_DEVICE ? parent : nullptr;
}

} // namespace

std::string cpu_list(hwloc_const_bitmap_t cpuset) {
  if (cpuset == nullptr) {
    return "";
  }
  char* text = nullptr;
  if (hwloc_bitmap_list_asprintf(&text, cpuset) < 0 || text == nullptr) {
    return "";
  }
  std::string list = text;
  free(text); // NOLINT: hwloc allocates with malloc
  return list;
}

std::string pci_bus_id(hwloc_obj_t object) {
  const auto* attr = pci_attr(object);
  if (attr == nullptr) {
    return "";
  }
  return fmt::format("{:04x}:{:02x}:{:02x}.{:01x}", attr->domain, attr->bus, attr->dev, attr->func);
}

bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    const bool digit_a = std::isdigit(static_cast<unsigned char>(a[i])) != 0;
    const bool digit_b = std::isdigit(static_cast<unsigned char>(b[j])) != 0;
    if (digit_a && digit_b) {
      std::size_t end_a = i;
      std::size_t end_b = j;
      while (end_a < a.size() && std::isdigit(static_cast<unsigned char>(a[end_a])) != 0) {
        ++end_a;
      }
      while (end_b < b.size() && std::isdigit(static_cast<unsigned char>(b[end_b])) != 0) {
        ++end_b;
      }
      const auto number_a = std::stoull(a.substr(i, end_a - i));
      const auto number_b = std::stoull(b.substr(j, end_b - j));
      if (number_a != number_b) {
        return number_a < number_b;
      }
      i = end_a;
      j = end_b;
      continue;
    }
    if (a[i] != b[j]) {
      return a[i] < b[j];
    }
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

PathClass classify_path(hwloc_obj_t a, hwloc_obj_t b) {
  if (a == b) {
    return PathClass::pix;
  }
  const auto chain_a = io_ancestors(a);
  const auto chain_b = io_ancestors(b);
  for (std::size_t below_b = 0; below_b < chain_b.size(); ++below_b) {
    const auto found = std::find(chain_a.begin(), chain_a.end(), chain_b[below_b]);
    if (found == chain_a.end()) {
      continue;
    }
    const hwloc_obj_t common = *found;
    const auto below_a = static_cast<std::size_t>(found - chain_a.begin());
    if (is_host_bridge(common)) {
      return PathClass::phb;
    }
    // A PCIe switch is an upstream port with downstream ports below it: devices behind one
    // switch have at most their own downstream port between them and the common upstream port.
    return below_a <= 1 && below_b <= 1 ? PathClass::pix : PathClass::pxb;
  }
  const hwloc_obj_t locality_a = non_io_ancestor(a);
  const hwloc_obj_t locality_b = non_io_ancestor(b);
  if (locality_a != nullptr && locality_b != nullptr && locality_a->nodeset != nullptr &&
      locality_b->nodeset != nullptr && hwloc_bitmap_isequal(locality_a->nodeset, locality_b->nodeset)) {
    return PathClass::node;
  }
  return PathClass::sys;
}

int path_hops(hwloc_obj_t a, hwloc_obj_t b) {
  const auto chain_a = io_ancestors(a);
  const auto chain_b = io_ancestors(b);
  for (std::size_t below_b = 0; below_b < chain_b.size(); ++below_b) {
    const auto found = std::find(chain_a.begin(), chain_a.end(), chain_b[below_b]);
    if (found != chain_a.end()) {
      return static_cast<int>(below_b) + static_cast<int>(found - chain_a.begin()) + 1;
    }
  }
  return static_cast<int>(chain_a.size() + chain_b.size()) + 2;
}

namespace {

/// What the PCI tree of a topology (a file brix did not write, usually) gets wrong that would
/// otherwise change answers silently: a device's bus outside the bus range of the bridge above
/// it or a bus id seen twice (a corrupted pci_busid reorders GPUs and changes their nearest
/// adapters), a link speed that is not a number.
std::vector<std::string> check_pci_tree(hwloc_topology_t topo) {
  std::vector<std::string> problems;
  std::map<std::string, int> seen;
  const auto visit = [&](hwloc_obj_t object) {
    const auto* attr = pci_attr(object);
    if (attr == nullptr) {
      return;
    }
    const auto bus_id = pci_bus_id(object);
    if (++seen[bus_id] == 2) {
      problems.push_back(fmt::format("PCI {} appears twice in the topology (a corrupted pci_busid?)", bus_id));
    }
    if (!std::isfinite(attr->linkspeed) || attr->linkspeed < 0) {
      problems.push_back(fmt::format("PCI {}: link speed '{}' GB/s is not a number >= 0; taken as unknown", bus_id,
                                     attr->linkspeed));
    }
    const hwloc_obj_t parent = object->parent;
    if (parent != nullptr && parent->type == HWLOC_OBJ_BRIDGE && bridge_side(parent->attr->bridge.downstream_type) == HWLOC_OBJ_BRIDGE_PCI) {
      const auto& down = parent->attr->bridge.downstream.pci;
      if (attr->domain != down.domain || attr->bus < down.secondary_bus || attr->bus > down.subordinate_bus) {
        problems.push_back(fmt::format("PCI {} sits under a bridge to buses {:04x}:[{:02x}-{:02x}] (a corrupted "
                                       "pci_busid?): GPU order and nearest adapters cannot be trusted",
                                       bus_id, down.domain, down.secondary_bus, down.subordinate_bus));
      }
    }
  };
  for (hwloc_obj_t object = hwloc_get_next_pcidev(topo, nullptr); object != nullptr;
       object = hwloc_get_next_pcidev(topo, object)) {
    visit(object);
  }
  for (hwloc_obj_t object = hwloc_get_next_bridge(topo, nullptr); object != nullptr;
       object = hwloc_get_next_bridge(topo, object)) {
    visit(object);
  }
  return problems;
}

/// A GPU or adapter must have CPUs near it: an empty locality is a damaged cpuset.
void check_locality(const HwlocDevice& device, std::string_view what, std::vector<std::string>& problems) {
  if (device.cpus.empty()) {
    problems.push_back(fmt::format("{} {}: no CPUs are local to it (an empty or malformed cpuset); CPU binding "
                                   "for it is unknown",
                                   what, device.bus_id.empty() ? device.os_device : device.bus_id));
  }
}

} // namespace

HwlocScan scan_topology(const HwlocTopology& topology) {
  hwloc_topology_t topo = topology.get();
  HwlocScan scan;
  add_infos(scan.machine_infos, hwloc_get_root_obj(topo));
  scan.packages = packages_of(topo);
  scan.numa_nodes = numa_nodes_of(topo);
  collect_pci_roots(hwloc_get_root_obj(topo), scan.pci);
  scan.problems = check_pci_tree(topo);

  for (hwloc_obj_t pci = hwloc_get_next_pcidev(topo, nullptr); pci != nullptr; pci = hwloc_get_next_pcidev(topo, pci)) {
    // NVIDIA display/3D controllers; NVSwitches (class 0x0680) are bridges, not GPUs.
    if (pci->attr->pcidev.vendor_id != 0x10de || (pci->attr->pcidev.class_id >> 8) != 0x03) {
      continue;
    }
    auto gpu = describe(pci);
    for (hwloc_obj_t child = pci->io_first_child; child != nullptr; child = child->next_sibling) {
      if (child->type != HWLOC_OBJ_OS_DEVICE) {
        continue;
      }
      const auto type = osdev_type(child);
      if (type == HWLOC_OBJ_OSDEV_COPROC || type == HWLOC_OBJ_OSDEV_GPU) {
        add_infos(gpu.infos, child);
        if (gpu.os_device.empty() && child->name != nullptr) {
          gpu.os_device = child->name;
        }
      }
    }
    check_locality(gpu, "GPU", scan.problems);
    scan.gpus.push_back(std::move(gpu));
  }
  std::sort(scan.gpus.begin(), scan.gpus.end(),
            [](const HwlocDevice& x, const HwlocDevice& y) { return x.bus_id < y.bus_id; });

  for (hwloc_obj_t osdev = hwloc_get_next_osdev(topo, nullptr); osdev != nullptr;
       osdev = hwloc_get_next_osdev(topo, osdev)) {
    const std::string name = osdev->name != nullptr ? osdev->name : "";
    if (osdev_type(osdev) == HWLOC_OBJ_OSDEV_OPENFABRICS) {
      hwloc_obj_t pci = pci_parent(osdev);
      auto nic = describe(pci != nullptr ? pci : osdev);
      nic.os_device = name;
      add_infos(nic.infos, osdev);
      for (hwloc_obj_t sibling = pci != nullptr ? pci->io_first_child : nullptr; sibling != nullptr;
           sibling = sibling->next_sibling) {
        if (sibling->type == HWLOC_OBJ_OS_DEVICE && osdev_type(sibling) == HWLOC_OBJ_OSDEV_NETWORK &&
            sibling->name != nullptr) {
          nic.netdevs.emplace_back(sibling->name);
        }
      }
      check_locality(nic, "RDMA adapter", scan.problems);
      scan.nics.push_back(std::move(nic));
    } else if (osdev_type(osdev) == HWLOC_OBJ_OSDEV_BLOCK) {
      Disk disk;
      disk.name = name;
      disk.model = info(osdev, "Model");
      disk.firmware = info(osdev, "Revision");
      disk.serial = info(osdev, "SerialNumber");
      disk.size_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(int_or(info(osdev, "Size"), 0), 0)) * 1024; // KiB
      disk.transport = util::starts_with(name, "nvme") ? "nvme" : util::to_lower(info(osdev, "Type"));
      if (hwloc_obj_t pci = pci_parent(osdev)) {
        disk.pci_bus_id = pci_bus_id(pci);
      }
      scan.disks.push_back(std::move(disk));
    }
  }
  std::sort(scan.disks.begin(), scan.disks.end(),
            [](const Disk& x, const Disk& y) { return natural_less(x.name, y.name); });
  std::sort(scan.nics.begin(), scan.nics.end(),
            [](const HwlocDevice& x, const HwlocDevice& y) { return natural_less(x.os_device, y.os_device); });
  return scan;
}

} // namespace brix::probe
