#include <brix/probe/hwloc_topology.hpp>

#include <brix/probe/hwloc_xml_check.hpp>

#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <optional>
#include <regex>
#include <set>
#include <utility>

namespace brix::probe {

namespace {

hwloc_topology_t init_with_io() {
  hwloc_topology_t topology = nullptr;
  if (hwloc_topology_init(&topology) != 0) {
    throw JobError(fmt::format("hwloc: cannot initialise a topology ({})", std::strerror(errno)));
  }
  // Bridges and OS devices are needed to classify PCIe paths and to find GPUs and adapters.
  hwloc_topology_set_io_types_filter(topology, HWLOC_TYPE_FILTER_KEEP_ALL);
  return topology;
}

struct DroppedDevice {
  int line = 0;
  std::string busid;
};

/// The first PCIDev object of `xml` that hwloc did not load: hwloc skips one whose pci_busid it
/// cannot parse, and the GPU or adapter would vanish from the report without a word. (With
/// KEEP_ALL every PCI device it can read is kept.)
std::optional<DroppedDevice> dropped_pci_device(const std::string& xml, hwloc_topology_t topology) {
  std::set<std::string> loaded;
  for (hwloc_obj_t obj = nullptr; (obj = hwloc_get_next_pcidev(topology, obj)) != nullptr;) {
    const auto& pci = obj->attr->pcidev;
    loaded.insert(fmt::format("{:04x}:{:02x}:{:02x}.{:01x}", pci.domain, pci.bus, pci.dev, pci.func));
  }
  static const std::regex k_device(R"re(type="PCIDev"[^>]*pci_busid="([^"]*)")re");
  int line = 0;
  for (const auto& text : util::split(xml, '\n')) {
    ++line;
    std::smatch match;
    if (text.find("PCIDev") != std::string::npos && std::regex_search(text, match, k_device) &&
        !loaded.contains(match[1].str())) {
      return DroppedDevice{line, match[1].str()};
    }
  }
  return std::nullopt;
}

} // namespace

HwlocTopology::HwlocTopology(hwloc_topology_t topology, std::string file)
    : m_topology(topology), m_file(std::move(file)) {}

HwlocTopology::HwlocTopology(HwlocTopology&& other) noexcept
    : m_topology(std::exchange(other.m_topology, nullptr)), m_file(std::move(other.m_file)) {}

HwlocTopology& HwlocTopology::operator=(HwlocTopology&& other) noexcept {
  if (this != &other) {
    if (m_topology != nullptr) {
      hwloc_topology_destroy(m_topology);
    }
    m_topology = std::exchange(other.m_topology, nullptr);
    m_file = std::move(other.m_file);
  }
  return *this;
}

HwlocTopology::~HwlocTopology() {
  if (m_topology != nullptr) {
    hwloc_topology_destroy(m_topology);
  }
}

HwlocTopology HwlocTopology::load_live() {
  hwloc_topology_t topology = init_with_io();
  if (hwloc_topology_load(topology) != 0) {
    const int error = errno;
    hwloc_topology_destroy(topology);
    throw JobError(fmt::format("hwloc: cannot discover this machine's topology ({})", std::strerror(error)));
  }
  return HwlocTopology(topology, "");
}

HwlocTopology HwlocTopology::load_xml(const std::string& path) {
  // hwloc reports a missing file only as a failed load; say which it is. The bytes are read here
  // (never blocking on a FIFO) and handed to hwloc as a buffer, its length counting the ending NUL
  // as hwloc_topology_export_xmlbuffer gives it.
  std::string why;
  const auto xml = util::read_regular_file(path, why);
  if (!xml) {
    throw InputError(located(path, 0, fmt::format("cannot open topology file ({})", why),
                             "an hwloc XML file from `lstopo --of xml`"));
  }
  const auto first = xml->find_first_not_of(" \t\r\n");
  if (first == std::string::npos || (*xml)[first] != '<') {
    throw InputError(located(path, 1, "not an XML file", "an hwloc XML file from `lstopo --of xml`"));
  }
  // What libhwloc's XML import assumes but does not check: it would crash instead.
  check_hwloc_xml(*xml, path);
  hwloc_topology_t topology = init_with_io();
  if (hwloc_topology_set_xmlbuffer(topology, xml->data(), static_cast<int>(xml->size() + 1)) != 0 ||
      hwloc_topology_load(topology) != 0) {
    hwloc_topology_destroy(topology);
    throw InputError(located(path, 0, "hwloc cannot load this topology (malformed or not hwloc XML)",
                             "an hwloc XML file from `lstopo --of xml`"));
  }
  if (const auto dropped = dropped_pci_device(*xml, topology)) {
    hwloc_topology_destroy(topology);
    throw InputError(located(path, dropped->line,
                             fmt::format("PCI device '{}' cannot be loaded (hwloc drops a malformed pci_busid)",
                                         util::printable(dropped->busid)),
                             "a bus id like 0000:1c:00.0"));
  }
  return HwlocTopology(topology, path);
}

} // namespace brix::probe
