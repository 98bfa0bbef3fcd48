#include <brix/probe/hwloc_topology.hpp>

#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
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
  hwloc_topology_t topology = init_with_io();
  if (hwloc_topology_set_xmlbuffer(topology, xml->data(), static_cast<int>(xml->size() + 1)) != 0 ||
      hwloc_topology_load(topology) != 0) {
    hwloc_topology_destroy(topology);
    throw InputError(located(path, 0, "hwloc cannot load this topology (malformed or not hwloc XML)",
                             "an hwloc XML file from `lstopo --of xml`"));
  }
  return HwlocTopology(topology, path);
}

} // namespace brix::probe
