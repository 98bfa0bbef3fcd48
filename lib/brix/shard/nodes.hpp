#pragma once
// The machines a plan is placed on, in rank order, with what `brix probe` found inside each one.
// Read from cluster files (node_groups with optional hosts and topology) or from probe reports
// (`brix probe --format json|yaml`), both parsed by the probe's own reader (probe/report_json);
// placement keeps the few fields it needs (schema: man/brix-probe.1).

#include <brix/plan/plan_file.hpp>
#include <brix/probe/path_class.hpp>

#include <memory>
#include <string>
#include <vector>

namespace brix::util {
class DocNode;
}

namespace brix::shard {

/// An RDMA adapter of a node.
struct TopologyNic {
  std::string name; ///< verbs device, "mlx5_0"
  int numa_node = -1;
  bool compute = false; ///< close to some GPU (PIX/PXB): meant for GPU traffic, not storage
  int port = 1;         ///< first active port (else the first port), as NCCL_IB_HCA wants it ("mlx5_0:1")
  std::string port_state; ///< that port's state, "ACTIVE", "DOWN", ...; "" when the report gives none

  /// Known to carry no traffic: a port state other than ACTIVE / ACTIVE_DEFER was reported.
  [[nodiscard]] bool down() const { return !port_state.empty() && port_state != "ACTIVE" && port_state != "ACTIVE_DEFER"; }
};

using probe::PathClass;

struct NicDistance {
  std::string name;
  PathClass path = PathClass::sys;
};

struct TopologyGpu {
  int index = 0;      ///< PCI bus order (CUDA_DEVICE_ORDER=PCI_BUS_ID)
  int numa_node = -1; ///< -1: unknown
  std::string cpus;   ///< CPU list local to the GPU
  std::vector<NicDistance> nearest_nics; ///< closest first
};

struct NodeTopology {
  std::string source; ///< "<file>:<line>" of the block, for messages
  std::vector<TopologyGpu> gpus;
  std::vector<TopologyNic> nics;

  [[nodiscard]] const TopologyNic* find_nic(const std::string& name) const;
};

struct ClusterNode {
  std::string name;    ///< host name, or "<group>#<i>" when the cluster file lists no hosts
  bool named = false;  ///< name is a real host name
  std::string group;   ///< node group
  int gpus = 0;
  std::shared_ptr<const NodeTopology> topology; ///< null: no topology block for this node
};

/// Reads a `topology:` block / probe report (probe::report_from_doc) and keeps the fields above.
/// Malformed reports, CPU lists that do not parse and adapters a GPU names but the report does
/// not list are InputErrors at their line.
[[nodiscard]] NodeTopology read_topology(const util::DocNode& block);

/// Nodes of one file: a cluster file (`node_groups:`) expands every group into its nodes; a probe
/// report (`brix_probe:`) is one node. Anything else is an InputError.
[[nodiscard]] std::vector<ClusterNode> load_nodes_file(const std::string& path);
/// The nodes of several files, in order.
[[nodiscard]] std::vector<ClusterNode> load_nodes(const std::vector<std::string>& paths);

/// The nodes to place a plan on: `files` (cluster files or probe reports) when given, else the
/// plan's cluster file.
[[nodiscard]] std::vector<ClusterNode> load_plan_nodes(const plan::PlanFile& plan,
                                                       const std::vector<std::string>& files);

} // namespace brix::shard
