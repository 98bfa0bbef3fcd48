#include <brix/cluster/loader.hpp>

#include <brix/cluster/gpu_catalog.hpp>
#include <brix/util/bundled.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <array>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>

namespace brix::cluster {

namespace {

using util::DocNode;

const std::vector<std::string> k_extensions{".yaml", ".yml", ".json"};
const std::vector<std::string> k_cluster_keys{"name", "network", "storage", "node_groups"};
const std::vector<std::string> k_network_keys{"shape", "oversubscription"};
const std::vector<std::string> k_storage_keys{"write_gb_per_s", "read_gb_per_s"};
const std::vector<std::string> k_group_keys{"name",   "nodes", "gpu",      "gpus_per_node",
                                            "gpu_overrides", "nvlink", "nics", "measured",
                                            "hosts",  "topology"};
const std::vector<std::string> k_override_keys{"memory_gib", "bf16_tflops", "fp8_tflops",
                                               "fp4_tflops", "hbm_tb_per_s"};
const std::vector<std::string> k_nvlink_keys{"domain", "gb_per_s"};
const std::vector<std::string> k_nics_keys{"count", "gbps"};
const std::vector<std::string> k_measured_keys{"intra_busbw_gb_per_s", "inter_busbw_gb_per_s"};

constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;

constexpr std::array<std::pair<std::string_view, NetworkShape>, 3> k_shapes{
    {{"rail-optimized", NetworkShape::rail_optimized},
     {"fat-tree", NetworkShape::fat_tree},
     {"single-switch", NetworkShape::single_switch}}};

NetworkShape parse_shape(const DocNode& node) {
  const auto text = node.as_string();
  std::vector<std::string> names;
  for (const auto& [name, shape] : k_shapes) {
    if (name == text || (text == "rail-optimised" && shape == NetworkShape::rail_optimized)) {
      return shape;
    }
    names.emplace_back(name);
  }
  node.fail(fmt::format("unknown network shape '{}'{}", text, util::did_you_mean(text, names)),
            fmt::format("one of {}", fmt::join(names, ", ")));
}

int positive_int(const DocNode& node, std::string_view key, std::int64_t limit = k_max_nodes) {
  const auto value = node.as_positive_int(key);
  if (value > limit) {
    node.fail(fmt::format("{}={} is implausibly large", key, value), fmt::format("at most {}", limit));
  }
  return static_cast<int>(value);
}

/// GPUs of all groups, in 64 bits: each factor is bounded, their sum is checked here.
std::int64_t total_gpus_checked(const ClusterSpec& cluster) {
  std::int64_t total = 0;
  for (const auto& group : cluster.groups) {
    total += static_cast<std::int64_t>(group.nodes) * group.gpus_per_node;
  }
  return total;
}

/// Defaults every node group takes from its catalog GPU when the file does not say otherwise.
void apply_gpu_defaults(NodeGroup& group) {
  group.nvlink_domain = group.gpu.nvlink_bytes_per_s > 0 ? group.gpus_per_node : 1;
  group.nvlink_bytes_per_s = group.gpu.nvlink_bytes_per_s;
  group.nics_per_node =
      std::max(1, static_cast<int>(std::lround(group.gpu.default_nics_per_gpu * group.gpus_per_node)));
  group.nic_gbps = group.gpu.default_nic_gbps;
}

void read_overrides(const DocNode& node, GpuSpec& gpu) {
  node.require_known_keys(k_override_keys, "gpu_overrides");
  if (const auto value = node.find("memory_gib")) {
    gpu.memory_bytes = value->as_positive_double("memory_gib") * k_gib;
  }
  if (const auto value = node.find("bf16_tflops")) {
    gpu.bf16_flops = value->as_positive_double("bf16_tflops") * 1e12;
  }
  if (const auto value = node.find("fp8_tflops")) {
    gpu.fp8_flops = value->as_positive_double("fp8_tflops") * 1e12;
  }
  if (const auto value = node.find("fp4_tflops")) {
    gpu.fp4_flops = value->as_positive_double("fp4_tflops") * 1e12;
  }
  if (const auto value = node.find("hbm_tb_per_s")) {
    gpu.hbm_bytes_per_s = value->as_positive_double("hbm_tb_per_s") * 1e12;
  }
}

NodeGroup read_group(const DocNode& node, std::size_t index) {
  node.require_known_keys(k_group_keys, "a node group");
  NodeGroup group;
  group.name = node.string_or("name", fmt::format("group{}", index));
  group.nodes = positive_int(node.at("nodes"), "nodes");
  group.gpus_per_node = positive_int(node.at("gpus_per_node"), "gpus_per_node", k_max_gpus_per_node);
  const DocNode gpu_node = node.at("gpu");
  try {
    group.gpu = find_gpu(gpu_node.as_string());
  } catch (const InputError& error) {
    gpu_node.fail(error.what());
  }
  apply_gpu_defaults(group);
  if (const auto overrides = node.find("gpu_overrides")) {
    read_overrides(*overrides, group.gpu);
  }
  if (const auto nvlink = node.find("nvlink")) {
    nvlink->require_known_keys(k_nvlink_keys, "nvlink");
    if (const auto domain = nvlink->find("domain")) {
      group.nvlink_domain = positive_int(*domain, "nvlink.domain");
    }
    if (const auto bandwidth = nvlink->find("gb_per_s")) {
      group.nvlink_bytes_per_s = bandwidth->as_positive_double("nvlink.gb_per_s") * 1e9;
    }
  }
  if (const auto nics = node.find("nics")) {
    nics->require_known_keys(k_nics_keys, "nics");
    if (const auto count = nics->find("count")) {
      group.nics_per_node = positive_int(*count, "nics.count");
    }
    if (const auto gbps = nics->find("gbps")) {
      group.nic_gbps = gbps->as_positive_double("nics.gbps");
    }
  }
  if (const auto measured = node.find("measured")) {
    measured->require_known_keys(k_measured_keys, "measured");
    if (const auto intra = measured->find("intra_busbw_gb_per_s")) {
      group.measured_intra_busbw = intra->as_positive_double("intra_busbw_gb_per_s") * 1e9;
    }
    if (const auto inter = measured->find("inter_busbw_gb_per_s")) {
      group.measured_inter_busbw = inter->as_positive_double("inter_busbw_gb_per_s") * 1e9;
    }
  }
  if (const auto hosts = node.find("hosts")) {
    for (const auto& host : hosts->elements()) {
      group.hosts.push_back(host.as_string());
    }
    if (group.hosts.size() != static_cast<std::size_t>(group.nodes)) {
      hosts->fail(fmt::format("{} hosts listed for nodes={}", group.hosts.size(), group.nodes),
                  "one host per node");
    }
  }
  if (const auto topology = node.find("topology")) {
    YAML::Emitter out;
    out << topology->raw();
    group.topology_yaml = out.c_str();
  }
  if (static_cast<std::int64_t>(group.nodes) * group.gpus_per_node > k_max_gpus) {
    node.at("nodes").fail(fmt::format("{} nodes × {} GPUs is more GPUs than brix plans", group.nodes,
                                      group.gpus_per_node),
                          fmt::format("at most {} GPUs", util::with_thousands(k_max_gpus)));
  }
  if (group.nvlink_domain > group.gpus_per_node * group.nodes) {
    node.at("nvlink").fail(fmt::format("nvlink.domain={} exceeds the group's {} GPUs",
                                       group.nvlink_domain, group.gpus()));
  }
  return group;
}

} // namespace

std::string to_string(NetworkShape shape) {
  for (const auto& [name, value] : k_shapes) {
    if (value == shape) {
      return std::string(name);
    }
  }
  return "?";
}

ClusterSpec cluster_from_document(const DocNode& root, const std::string& name) {
  root.require_known_keys(k_cluster_keys, "the cluster file");
  ClusterSpec cluster;
  cluster.name = root.string_or("name", name);
  cluster.source = root.file();
  if (const auto network = root.find("network")) {
    network->require_known_keys(k_network_keys, "network");
    if (const auto shape = network->find("shape")) {
      cluster.network = parse_shape(*shape);
    }
    if (const auto value = network->find("oversubscription")) {
      cluster.oversubscription = value->as_positive_double("oversubscription");
      if (cluster.oversubscription < 1.0) {
        value->fail(fmt::format("oversubscription must be >= 1 (got {})", cluster.oversubscription),
                    "1.0 is non-blocking, 2.0 a 2:1 taper");
      }
    }
  }
  if (const auto storage = root.find("storage")) {
    storage->require_known_keys(k_storage_keys, "storage");
    if (const auto write = storage->find("write_gb_per_s")) {
      cluster.storage_write_bytes_per_s = write->as_positive_double("write_gb_per_s") * 1e9;
    }
    if (const auto read = storage->find("read_gb_per_s")) {
      cluster.storage_read_bytes_per_s = read->as_positive_double("read_gb_per_s") * 1e9;
    }
  }
  const DocNode groups = root.at("node_groups");
  const auto elements = groups.elements();
  if (elements.empty()) {
    groups.fail("node_groups is empty", "at least one node group");
  }
  for (std::size_t i = 0; i < elements.size(); ++i) {
    cluster.groups.push_back(read_group(elements[i], i));
    if (total_gpus_checked(cluster) > k_max_gpus) {
      elements[i].fail(fmt::format("the node groups so far have {} GPUs, more than brix plans",
                                   util::with_thousands(total_gpus_checked(cluster))),
                       fmt::format("at most {} GPUs", util::with_thousands(k_max_gpus)));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (cluster.groups[j].name == cluster.groups[i].name) {
        elements[i].fail(fmt::format("duplicate node group name '{}'", cluster.groups[i].name));
      }
    }
  }
  return cluster;
}

ClusterSpec load_cluster(const std::string& name_or_path) {
  if (name_or_path.starts_with(k_shorthand_prefix)) {
    return parse_shorthand_spec(name_or_path);
  }
  const auto path = util::resolve_bundled(name_or_path, "clusters", k_extensions, "--cluster");
  const auto root = util::DocNode::load_file(path);
  return cluster_from_document(root, std::filesystem::path(path).stem().string());
}

namespace {

/// The shorthand's sizes before they are narrowed to `int`, and how messages name them: the
/// command-line options, or the keys of a plan file's `shorthand:` spec.
struct ShorthandSizes {
  std::int64_t nodes = 0;
  std::int64_t gpus_per_node = 0;
  std::optional<std::int64_t> nics_per_node;
  std::optional<double> nic_gbps;
};
struct ShorthandNames {
  std::string prefix; ///< "cluster '<spec>': " for a spec, empty for options
  std::string nodes, gpus_per_node, nics_per_node, nic_gbps;
};
const ShorthandNames k_option_names{"", "--nodes", "--gpus-per-node", "--nics-per-node", "--nic-gbps"};

void check_count(std::int64_t value, std::int64_t limit, const std::string& name, const ShorthandNames& names) {
  if (value <= 0) {
    throw InputError(fmt::format("{}{} must be > 0 (got {})", names.prefix, name, value));
  }
  if (value > limit) {
    throw InputError(fmt::format("{}{} {} is more than brix plans (expected at most {})", names.prefix, name,
                                 util::with_thousands(value), util::with_thousands(limit)));
  }
}

/// Every bound of the shorthand, in 64-bit arithmetic (each factor is bounded before the product).
void check_shorthand(const ShorthandSizes& sizes, const ShorthandNames& names) {
  check_count(sizes.nodes, k_max_nodes, names.nodes, names);
  check_count(sizes.gpus_per_node, k_max_gpus_per_node, names.gpus_per_node, names);
  if (sizes.nodes * sizes.gpus_per_node > k_max_gpus) {
    throw InputError(fmt::format("{}{} × {} = {} GPUs is more than brix plans (expected at most {})", names.prefix,
                                 names.nodes, names.gpus_per_node, util::with_thousands(sizes.nodes * sizes.gpus_per_node),
                                 util::with_thousands(k_max_gpus)));
  }
  if (sizes.nics_per_node) {
    check_count(*sizes.nics_per_node, k_max_gpus_per_node, names.nics_per_node, names);
  }
  if (sizes.nic_gbps && !(*sizes.nic_gbps > 0.0 && std::isfinite(*sizes.nic_gbps))) {
    throw InputError(fmt::format("{}{} must be a finite number > 0 (got {})", names.prefix, names.nic_gbps,
                                 *sizes.nic_gbps));
  }
}

/// The cluster of checked sizes.
ClusterSpec build_shorthand(const ShorthandSizes& sizes, const std::string& gpu) {
  const int nodes = static_cast<int>(sizes.nodes);
  const int gpus_per_node = static_cast<int>(sizes.gpus_per_node);
  const auto nics_per_node =
      sizes.nics_per_node ? std::optional<int>(static_cast<int>(*sizes.nics_per_node)) : std::nullopt;
  const auto nic_gbps = sizes.nic_gbps;
  NodeGroup group;
  group.gpu = find_gpu(gpu);
  group.name = gpu;
  group.nodes = nodes;
  group.gpus_per_node = gpus_per_node;
  apply_gpu_defaults(group);
  if (nics_per_node) {
    group.nics_per_node = *nics_per_node;
  }
  if (nic_gbps) {
    group.nic_gbps = *nic_gbps;
  }
  ClusterSpec cluster;
  cluster.name = fmt::format("{}x{}x{}", nodes, gpus_per_node, gpu);
  cluster.source = shorthand_spec(nodes, gpus_per_node, gpu, nics_per_node, nic_gbps);
  cluster.network = nodes == 1 ? NetworkShape::single_switch : NetworkShape::rail_optimized;
  cluster.groups.push_back(std::move(group));
  return cluster;
}

} // namespace

ClusterSpec shorthand_cluster(int nodes, int gpus_per_node, const std::string& gpu,
                              std::optional<int> nics_per_node, std::optional<double> nic_gbps) {
  ShorthandSizes sizes{nodes, gpus_per_node, std::nullopt, nic_gbps};
  if (nics_per_node) {
    sizes.nics_per_node = *nics_per_node;
  }
  check_shorthand(sizes, k_option_names);
  return build_shorthand(sizes, gpu);
}

std::string shorthand_spec(int nodes, int gpus_per_node, const std::string& gpu, std::optional<int> nics_per_node,
                           std::optional<double> nic_gbps) {
  auto spec = fmt::format("{}nodes={},gpus_per_node={},gpu={}", k_shorthand_prefix, nodes, gpus_per_node, gpu);
  if (nics_per_node) {
    spec += fmt::format(",nics_per_node={}", *nics_per_node);
  }
  if (nic_gbps) {
    spec += fmt::format(",nic_gbps={}", *nic_gbps);
  }
  return spec;
}

ClusterSpec parse_shorthand_spec(std::string_view spec) {
  const std::string what(spec);
  ShorthandSizes sizes;
  std::optional<std::int64_t> nodes, gpus_per_node;
  std::string gpu;
  const auto as_int = [&](const std::string& key, const std::string& value) {
    const auto parsed = util::parse_int(value);
    if (!parsed) {
      throw InputError(fmt::format("cluster '{}': {}={} is not an integer", what, key, value));
    }
    return *parsed;
  };
  for (const auto& [key, value] : util::parse_key_values(spec.substr(k_shorthand_prefix.size()), what)) {
    if (key == "nodes") {
      nodes = as_int(key, value);
    } else if (key == "gpus_per_node") {
      gpus_per_node = as_int(key, value);
    } else if (key == "gpu") {
      gpu = value;
    } else if (key == "nics_per_node") {
      sizes.nics_per_node = as_int(key, value);
    } else if (key == "nic_gbps") {
      sizes.nic_gbps = util::parse_double(value);
      if (!sizes.nic_gbps) {
        throw InputError(fmt::format("cluster '{}': nic_gbps={} is not a number", what, value));
      }
    } else {
      const std::vector<std::string> keys{"nodes", "gpus_per_node", "gpu", "nics_per_node", "nic_gbps"};
      throw InputError(fmt::format("cluster '{}': unknown key '{}'{} (expected {})", what, key, util::did_you_mean(key, keys),
                                   "nodes, gpus_per_node, gpu, nics_per_node, nic_gbps"));
    }
  }
  if (!nodes || gpu.empty()) {
    throw InputError(fmt::format("cluster '{}': needs nodes= and gpu= (as brix plan --nodes N --gpu ID writes it)", what));
  }
  sizes.nodes = *nodes;
  sizes.gpus_per_node = gpus_per_node.value_or(find_gpu(gpu).default_gpus_per_node);
  // Named as the spec names them: the user wrote `nodes=` in a file, not --nodes.
  check_shorthand(sizes, {fmt::format("cluster '{}': ", what), "nodes", "gpus_per_node", "nics_per_node", "nic_gbps"});
  return build_shorthand(sizes, gpu);
}

ClusterSpec first_nodes(const ClusterSpec& cluster, int nodes) {
  ClusterSpec part = cluster;
  int left = nodes;
  for (auto& group : part.groups) {
    group.nodes = std::min(group.nodes, left);
    left -= group.nodes;
    if (group.hosts.size() > static_cast<std::size_t>(group.nodes)) {
      group.hosts.resize(static_cast<std::size_t>(group.nodes));
    }
    // An NVLink domain larger than what is left of the group (an NVL72 rack cut short) spans it.
    group.nvlink_domain = std::min(group.nvlink_domain, std::max(1, group.gpus()));
  }
  std::erase_if(part.groups, [](const NodeGroup& group) { return group.nodes == 0; });
  return part;
}

ClusterSpec select_cluster(const ClusterChoice& choice, const std::string& default_cluster) {
  const bool shorthand = choice.gpus_per_node || !choice.gpu.empty() || choice.nics_per_node || choice.nic_gbps;
  if (!choice.cluster.empty() && choice.nodes && !shorthand) {
    // A job on part of a cluster: its first N nodes, in the file's order.
    const auto whole = load_cluster(choice.cluster);
    int nodes = 0;
    for (const auto& group : whole.groups) {
      nodes += group.nodes;
    }
    if (*choice.nodes <= 0 || *choice.nodes > nodes) {
      throw InputError(fmt::format("--nodes {}: cluster '{}' has {} nodes (expected 1 to {}: --nodes with --cluster "
                                   "plans on the first N nodes of the cluster)",
                                   *choice.nodes, whole.name, nodes, nodes));
    }
    return first_nodes(whole, *choice.nodes);
  }
  if (!choice.nodes && !shorthand) {
    return load_cluster(choice.cluster.empty() ? default_cluster : choice.cluster);
  }
  if (!choice.cluster.empty()) {
    throw InputError("--cluster cannot be combined with --gpus-per-node/--gpu/--nics-per-node/--nic-gbps (give a "
                     "cluster file, with --nodes N to plan on its first N nodes, or the shorthand)");
  }
  if (!choice.nodes || choice.gpu.empty()) {
    throw InputError(fmt::format("the cluster shorthand needs --nodes and --gpu (missing {})",
                                 !choice.nodes ? "--nodes" : "--gpu"));
  }
  const auto& gpu = find_gpu(choice.gpu);
  return shorthand_cluster(*choice.nodes, choice.gpus_per_node.value_or(gpu.default_gpus_per_node),
                           choice.gpu, choice.nics_per_node, choice.nic_gbps);
}

std::vector<std::string> bundled_clusters() { return util::bundled_names("clusters", k_extensions); }

} // namespace brix::cluster
