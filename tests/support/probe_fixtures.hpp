#pragma once
// Shared by the probe unit tests: the hwloc XML fixtures of tests/fixtures/hwloc.

#include <brix/probe/probe.hpp>

#include <string>

namespace brix::test {

/// The path of tests/fixtures/hwloc/<name>.
inline std::string hwloc_fixture(const std::string& name) {
  return std::string(BRIX_TEST_SOURCE_DIR) + "/tests/fixtures/hwloc/" + name;
}

/// A node report from a fixture, named as Slurm would name it.
inline probe::NodeReport probe_fixture(const std::string& name, const std::string& host = "") {
  probe::ProbeRequest request;
  request.topology_file = hwloc_fixture(name);
  request.naming.slurm_node_name = host;
  return probe::probe_node(request);
}

} // namespace brix::test
