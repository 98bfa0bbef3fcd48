#include <brix/shard/nodes.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/plan/plan_inputs.hpp>
#include <brix/probe/report_json.hpp>
#include <brix/util/bundled.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>

#include <fmt/format.h>

namespace brix::shard {

namespace {

using util::DocNode;

std::string where(const DocNode& node) { return fmt::format("{}:{}", node.file(), node.line()); }

} // namespace

const TopologyNic* NodeTopology::find_nic(const std::string& name) const {
  for (const auto& nic : nics) {
    if (nic.name == name) {
      return &nic;
    }
  }
  return nullptr;
}

NodeTopology read_topology(const DocNode& block) {
  const auto report = probe::report_from_doc(block);
  NodeTopology topology;
  topology.source = where(block);
  for (const auto& nic : report.nics) {
    // NCCL uses the port named in NCCL_IB_HCA: the first active one, else the first one.
    const probe::NicPort* port = nic.primary_port();
    for (const auto& each : nic.ports) {
      if (each.state == "ACTIVE" || each.state == "ACTIVE_DEFER") {
        port = &each;
        break;
      }
    }
    topology.nics.push_back({nic.name, nic.numa_node, nic.compute, port != nullptr ? port->number : 1,
                             port != nullptr ? port->state : std::string()});
  }
  const auto gpu_nodes = block.at("gpus").elements();
  for (std::size_t i = 0; i < report.gpus.size(); ++i) {
    const auto& gpu = report.gpus[i];
    // CPU lists and GPU indices (each once) were checked by the report reader.
    TopologyGpu out{gpu.index, gpu.numa_node, gpu.cpus, {}};
    for (const auto& nic : gpu.nearest_nics) {
      if (topology.find_nic(nic.name) == nullptr) {
        gpu_nodes[i].fail(fmt::format("GPU {} lists adapter '{}' that is not under nics", gpu.index, nic.name));
      }
      out.nearest_nics.push_back({nic.name, nic.path});
    }
    topology.gpus.push_back(std::move(out));
  }
  return topology;
}

std::vector<ClusterNode> load_nodes_file(const std::string& path) {
  const auto root = DocNode::load_file(path);
  std::vector<ClusterNode> nodes;
  if (root.has("brix_probe")) {
    auto topology = std::make_shared<const NodeTopology>(read_topology(root));
    ClusterNode node;
    node.name = root.at("host").as_string();
    node.named = !node.name.empty();
    node.group = node.name;
    node.gpus = static_cast<int>(topology->gpus.size());
    node.topology = topology;
    if (node.gpus == 0) {
      root.fail(fmt::format("probe report of {} lists no GPUs", node.name), "a node to place ranks on has GPUs");
    }
    nodes.push_back(std::move(node));
    return nodes;
  }
  if (!root.has("node_groups")) {
    root.fail("neither a cluster file (node_groups:) nor a probe report (brix_probe:)",
              "a cluster YAML or the output of brix probe --format yaml|json");
  }
  // The cluster loader checks the whole file; the node list and topology blocks are read here
  // again for their line numbers.
  const auto cluster = cluster::cluster_from_document(root, path);
  const auto groups = root.at("node_groups").elements();
  for (std::size_t g = 0; g < groups.size() && g < cluster.groups.size(); ++g) {
    const auto& spec = cluster.groups[g];
    std::shared_ptr<const NodeTopology> topology;
    if (const auto block = groups[g].find("topology")) {
      topology = std::make_shared<const NodeTopology>(read_topology(*block));
      if (static_cast<int>(topology->gpus.size()) != spec.gpus_per_node) {
        block->fail(fmt::format("topology of node group {} lists {} GPUs but gpus_per_node is {}",
                                spec.name, topology->gpus.size(), spec.gpus_per_node));
      }
    }
    if (!spec.hosts.empty() && static_cast<int>(spec.hosts.size()) != spec.nodes) {
      groups[g].at("hosts").fail(fmt::format("node group {} lists {} hosts for {} nodes", spec.name,
                                             spec.hosts.size(), spec.nodes));
    }
    for (int i = 0; i < spec.nodes; ++i) {
      ClusterNode node;
      node.named = !spec.hosts.empty();
      node.name = node.named ? spec.hosts[static_cast<std::size_t>(i)] : fmt::format("{}#{}", spec.name, i);
      node.group = spec.name;
      node.gpus = spec.gpus_per_node;
      node.topology = topology;
      nodes.push_back(std::move(node));
    }
  }
  return nodes;
}

std::vector<ClusterNode> load_nodes(const std::vector<std::string>& paths) {
  std::vector<ClusterNode> nodes;
  for (const auto& path : paths) {
    auto more = load_nodes_file(path);
    nodes.insert(nodes.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  return nodes;
}

std::vector<ClusterNode> load_plan_nodes(const plan::PlanFile& plan, const std::vector<std::string>& files) {
  if (!files.empty()) {
    return load_nodes(files);
  }
  const auto name = plan::resolve_plan_source(plan, plan.cluster, "cluster");
  if (name.starts_with(cluster::k_shorthand_prefix)) {
    std::vector<ClusterNode> nodes;
    for (const auto& group : cluster::parse_shorthand_spec(name).groups) {
      for (int i = 0; i < group.nodes; ++i) {
        nodes.push_back({fmt::format("{}#{}", group.name, i), false, group.name, group.gpus_per_node, nullptr});
      }
    }
    return nodes;
  }
  return load_nodes({util::resolve_bundled(name, "clusters", {".yaml", ".yml", ".json"}, "cluster")});
}

} // namespace brix::shard
