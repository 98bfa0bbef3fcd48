#pragma once
// Reading cluster descriptions (schema: man/brix-plan.1, annotated example
// configs/clusters/example-annotated.yaml) and the --nodes/--gpus-per-node/--gpu shorthand.

#include <brix/cluster/cluster.hpp>

#include <optional>
#include <string_view>
#include <string>
#include <vector>

namespace brix::util {
class DocNode;
}

namespace brix::cluster {

/// A path to a cluster YAML, or a bundled name resolved in <config_dir>/clusters/<name>.yaml.
[[nodiscard]] ClusterSpec load_cluster(const std::string& name_or_path);

/// How a shorthand cluster is named where a file would be (a plan file's cluster.source):
/// "shorthand:nodes=4,gpus_per_node=8,gpu=h100-sxm[,nics_per_node=K][,nic_gbps=X]".
inline constexpr std::string_view k_shorthand_prefix = "shorthand:";
[[nodiscard]] std::string shorthand_spec(int nodes, int gpus_per_node, const std::string& gpu,
                                         std::optional<int> nics_per_node, std::optional<double> nic_gbps);
/// The cluster of a shorthand spec (load_cluster does this for names with the prefix).
[[nodiscard]] ClusterSpec parse_shorthand_spec(std::string_view spec);

[[nodiscard]] ClusterSpec cluster_from_document(const util::DocNode& root, const std::string& name);

/// One node group of `nodes` × `gpus_per_node` catalog GPUs; NICs default to the usual node's
/// fabric for that GPU (e.g. one 400 Gb/s adapter per H100, one 200 Gb/s per A100).
[[nodiscard]] ClusterSpec shorthand_cluster(int nodes, int gpus_per_node, const std::string& gpu,
                                            std::optional<int> nics_per_node,
                                            std::optional<double> nic_gbps);

/// The first `nodes` nodes of `cluster` in its file's order, group by group (groups left empty
/// are dropped, host lists cut, NVLink domains kept within what is left): a job on part of a
/// cluster. `nodes` must be between 1 and the cluster's node count.
[[nodiscard]] ClusterSpec first_nodes(const ClusterSpec& cluster, int nodes);

/// What the user named on the command line: a cluster file/name, or the shorthand.
struct ClusterChoice {
  std::string cluster;              ///< --cluster (empty: not given)
  std::optional<int> nodes;         ///< --nodes: the shorthand's size, or with --cluster its first N nodes
  std::optional<int> gpus_per_node; ///< --gpus-per-node (default: the GPU's usual node)
  std::string gpu;                  ///< --gpu
  std::optional<int> nics_per_node; ///< --nics-per-node
  std::optional<double> nic_gbps;   ///< --nic-gbps
};

/// The cluster of `choice`: --cluster (its first N nodes with --nodes N), or the shorthand when
/// --nodes is given alone, or `default_cluster` when neither is. --cluster with the other
/// shorthand options, or shorthand options without --nodes/--gpu, is an InputError naming them.
[[nodiscard]] ClusterSpec select_cluster(const ClusterChoice& choice,
                                         const std::string& default_cluster);

/// Bundled cluster names (file stems under <config_dir>/clusters), sorted.
[[nodiscard]] std::vector<std::string> bundled_clusters();

[[nodiscard]] std::string to_string(NetworkShape shape);

} // namespace brix::cluster
