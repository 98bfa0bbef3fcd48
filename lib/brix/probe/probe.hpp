#pragma once
// `brix probe` for one node: load the topology (live or from an hwloc XML file), ask the other
// sources, and assemble the NodeReport.

#include <brix/probe/hwloc_scan.hpp>
#include <brix/probe/node_report.hpp>
#include <brix/probe/sources.hpp>

#include <string>

namespace brix::probe {

struct ProbeInputs {
  GpuDriverScan gpu;
  VerbsScan verbs;
  HostFacts host;
};

/// How the node is named: SLURMD_NODENAME when set, else the file's HostName (topology from a
/// file) or this machine's hostname.
struct NodeNaming {
  std::string slurm_node_name;
};

/// Builds the report from a scanned topology and the sources' answers.
[[nodiscard]] NodeReport assemble_report(const HwlocScan& scan, const ProbeInputs& inputs, const NodeNaming& naming,
                                         const std::string& topology_source);

/// Probes with explicit sources over a loaded topology (tests pass Static* fakes).
[[nodiscard]] NodeReport probe_with(const HwlocTopology& topology, GpuDriverSource& gpu, VerbsSource& verbs,
                                    HostSource& host, const NodeNaming& naming);

struct ProbeRequest {
  std::string topology_file; ///< "" = the live machine
  NodeNaming naming;
  std::string root = "/";    ///< where /etc, /proc and /sys are read (live only)
};

/// Probes this machine, or the machine a topology file describes (then every source is the file).
[[nodiscard]] NodeReport probe_node(const ProbeRequest& request);

} // namespace brix::probe
