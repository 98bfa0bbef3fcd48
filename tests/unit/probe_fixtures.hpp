#pragma once
// Shared by the probe unit tests: the hwloc XML fixtures of tests/fixtures/hwloc.

#include <brix/probe/probe.hpp>

#include <string>

namespace probe_test {

inline std::string fixture(const std::string& name) {
  return std::string(BRIX_TEST_SOURCE_DIR) + "/tests/fixtures/hwloc/" + name;
}

/// A node report from a fixture, named as Slurm would name it.
inline brix::probe::NodeReport probe_fixture(const std::string& name, const std::string& host = "") {
  brix::probe::ProbeRequest request;
  request.topology_file = fixture(name);
  request.naming.slurm_node_name = host;
  return brix::probe::probe_node(request);
}

} // namespace probe_test
