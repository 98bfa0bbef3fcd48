#include <brix/shard/nodes.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/util/cpu_list.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>

#include <array>
#include <fmt/format.h>

namespace brix::shard {

namespace {

using util::DocNode;

constexpr std::array<std::string_view, 5> k_path_names{"PIX", "PXB", "PHB", "NODE", "SYS"};

PathClass read_path(const DocNode& node) {
  const auto text = node.as_string();
  for (std::size_t i = 0; i < k_path_names.size(); ++i) {
    if (k_path_names[i] == text) {
      return static_cast<PathClass>(i);
    }
  }
  node.fail(fmt::format("unknown path class '{}'", text), "expected PIX, PXB, PHB, NODE or SYS");
}

int numa_of(const DocNode& item) {
  const auto numa = item.find("numa_node"); // null: unknown or spanning several nodes
  return numa ? static_cast<int>(numa->as_non_negative_int("numa_node")) : -1;
}

std::string where(const DocNode& node) { return fmt::format("{}:{}", node.file(), node.line()); }

} // namespace

std::string path_class_name(PathClass path) {
  return std::string(k_path_names[static_cast<std::size_t>(path)]);
}

const TopologyNic* NodeTopology::find_nic(const std::string& name) const {
  for (const auto& nic : nics) {
    if (nic.name == name) {
      return &nic;
    }
  }
  return nullptr;
}

NodeTopology read_topology(const DocNode& block) {
  if (!block.is_map()) {
    block.fail("topology must be a mapping", "the node report `brix probe --format yaml` writes");
  }
  NodeTopology topology;
  topology.source = where(block);
  for (const auto& item : block.at("gpus").elements()) {
    TopologyGpu gpu;
    gpu.index = static_cast<int>(item.at("index").as_non_negative_int("gpus[].index"));
    gpu.numa_node = numa_of(item);
    if (const auto cpus = item.find("cpus")) {
      gpu.cpus = cpus->as_string();
      if (!util::parse_cpu_list(gpu.cpus)) {
        cpus->fail(fmt::format("'{}' is not a CPU list", gpu.cpus), "e.g. 0-55,112-167");
      }
    }
    if (const auto nearest = item.find("nearest_nics")) {
      for (const auto& nic : nearest->elements()) {
        gpu.nearest_nics.push_back({nic.at("name").as_string(), read_path(nic.at("path"))});
      }
    }
    for (const auto& seen : topology.gpus) {
      if (seen.index == gpu.index) {
        item.fail(fmt::format("GPU index {} appears twice", gpu.index));
      }
    }
    topology.gpus.push_back(std::move(gpu));
  }
  if (const auto nics = block.find("nics")) {
    for (const auto& item : nics->elements()) {
      TopologyNic nic;
      nic.name = item.at("name").as_string();
      nic.numa_node = numa_of(item);
      nic.compute = item.bool_or("compute", false);
      if (const auto ports = item.find("ports"); ports && !ports->elements().empty()) {
        nic.port = static_cast<int>(ports->elements().front().int_or("number", 1));
      }
      topology.nics.push_back(std::move(nic));
    }
  }
  for (const auto& gpu : topology.gpus) {
    for (const auto& nic : gpu.nearest_nics) {
      if (topology.find_nic(nic.name) == nullptr) {
        fail_input(block.file(), block.line(),
                   fmt::format("GPU {} lists adapter '{}' that is not under nics", gpu.index, nic.name));
      }
    }
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

} // namespace brix::shard
