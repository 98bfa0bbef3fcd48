#pragma once
// Node reports as entries of the cluster schema (BRIEF.md, read by the planner): one node group
// per set of like nodes, with GPU catalog id, GPUs per node, NVLink domain, compute adapters,
// hosts, and the representative node's report as the free-form `topology:` block.

#include <brix/probe/node_report.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace brix::probe {

/// The most common GPU model on the node ("" without GPUs).
[[nodiscard]] std::string dominant_gpu_model(const NodeReport& report);
/// Catalog id of the dominant GPU model ("h100-sxm"); a derived id for models brix does not know.
[[nodiscard]] std::string gpu_catalog_id(const NodeReport& report);
/// Compute adapters (nearest to a GPU at PIX/PXB) whose first port is active, and their most
/// common rate; those whose port is not active are counted apart.
struct ComputeAdapters {
  int count = 0;
  double gbps = 0;
  int down = 0;
};
[[nodiscard]] ComputeAdapters compute_adapters(const NodeReport& report);

/// A node_groups entry for `hosts`, described by `representative`.
[[nodiscard]] nlohmann::ordered_json node_group_document(const std::string& name, const NodeReport& representative,
                                                         const std::vector<std::string>& hosts);
/// `brix probe --format yaml`: a cluster file holding this one node.
[[nodiscard]] nlohmann::ordered_json single_node_cluster(const NodeReport& report);

} // namespace brix::probe
