#pragma once
// An hwloc topology with every I/O object kept (PCI bridges, devices, OS devices), loaded from
// the live machine or from an hwloc XML file (`lstopo --of xml`). Move-only owner.

#include <hwloc.h>

#include <string>

namespace brix::probe {

class HwlocTopology {
public:
  /// The machine this runs on.
  [[nodiscard]] static HwlocTopology load_live();
  /// An hwloc XML file. Missing, unreadable or malformed files are InputErrors naming the file.
  [[nodiscard]] static HwlocTopology load_xml(const std::string& path);

  HwlocTopology(HwlocTopology&& other) noexcept;
  HwlocTopology& operator=(HwlocTopology&& other) noexcept;
  HwlocTopology(const HwlocTopology&) = delete;
  HwlocTopology& operator=(const HwlocTopology&) = delete;
  ~HwlocTopology();

  [[nodiscard]] hwloc_topology_t get() const { return m_topology; }
  /// True when the topology describes another machine (read from a file).
  [[nodiscard]] bool from_file() const { return !m_file.empty(); }
  /// The XML file, or "" for the live machine.
  [[nodiscard]] const std::string& file() const { return m_file; }

private:
  HwlocTopology(hwloc_topology_t topology, std::string file);
  hwloc_topology_t m_topology = nullptr;
  std::string m_file;
};

} // namespace brix::probe
