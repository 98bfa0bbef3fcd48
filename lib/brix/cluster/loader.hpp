#pragma once
// Reading cluster descriptions (schema: man/brix-plan.1, annotated example
// configs/clusters/example-annotated.yaml) and the --nodes/--gpus-per-node/--gpu shorthand.

#include <brix/cluster/cluster.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::util {
class DocNode;
}

namespace brix::cluster {

/// A path to a cluster YAML, or a bundled name resolved in <config_dir>/clusters/<name>.yaml.
[[nodiscard]] ClusterSpec load_cluster(const std::string& name_or_path);

[[nodiscard]] ClusterSpec cluster_from_document(const util::DocNode& root, const std::string& name);

/// One node group of `nodes` × `gpus_per_node` catalog GPUs; NICs default to the usual node's
/// fabric for that GPU (e.g. one 400 Gb/s adapter per H100, one 200 Gb/s per A100).
[[nodiscard]] ClusterSpec shorthand_cluster(int nodes, int gpus_per_node, const std::string& gpu,
                                            std::optional<int> nics_per_node,
                                            std::optional<double> nic_gbps);

/// Bundled cluster names (file stems under <config_dir>/clusters), sorted.
[[nodiscard]] std::vector<std::string> bundled_clusters();

[[nodiscard]] std::string to_string(NetworkShape shape);

} // namespace brix::cluster
