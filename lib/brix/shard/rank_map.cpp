#include <brix/shard/rank_map.hpp>

#include <brix/shard/rank_checks.hpp>
#include <brix/shard/rank_generator.hpp>
#include <brix/util/cpu_list.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <map>

namespace brix::shard {

namespace {

/// Megatron's default embedding group: the first and the last stage of the pipeline.
std::vector<int> embedding_group(const std::vector<int>& pipeline) {
  if (pipeline.size() <= 1) {
    return pipeline;
  }
  return {pipeline.front(), pipeline.back()};
}

/// The nearest compute adapters of a GPU: every adapter at the best path class among the compute
/// adapters it lists (all adapters when none is marked compute). Adapters whose port is down are
/// passed over, so a GPU whose own adapter is down falls back to the next-nearest active one.
std::pair<std::vector<std::string>, int> nearest_adapters(const TopologyGpu& gpu, const NodeTopology& topology) {
  bool any_compute = false;
  for (const auto& nic : gpu.nearest_nics) {
    const auto* info = topology.find_nic(nic.name);
    any_compute = any_compute || (info != nullptr && info->compute && !info->down());
  }
  std::vector<std::string> names;
  int best = -1;
  for (const auto& nic : gpu.nearest_nics) {
    const auto* info = topology.find_nic(nic.name);
    if ((info != nullptr && info->down()) || (any_compute && (info == nullptr || !info->compute))) {
      continue;
    }
    const int path = static_cast<int>(nic.path);
    if (best < 0 || path < best) {
      best = path;
      names.clear();
    }
    if (path == best) {
      names.push_back(nic.name);
    }
  }
  return {names, best};
}

void place_on_topology(RankPlacement& rank, const ClusterNode& node, const std::vector<RankPlacement>& ranks,
                       int first_rank_of_node) {
  const auto& topology = *node.topology;
  auto gpus = topology.gpus;
  std::sort(gpus.begin(), gpus.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  const auto& gpu = gpus[static_cast<std::size_t>(rank.local_rank)];
  rank.gpu = gpu.index;
  rank.numa_node = gpu.numa_node;
  // Ranks whose GPUs share one CPU locality split its CPUs between them, in local-rank order.
  int parts = 0;
  int part = 0;
  for (int local = 0; local < node.gpus && first_rank_of_node + local < static_cast<int>(ranks.size()); ++local) {
    if (gpus[static_cast<std::size_t>(local)].cpus == gpu.cpus) {
      part += local < rank.local_rank ? 1 : 0;
      ++parts;
    }
  }
  if (const auto cpus = util::parse_cpu_list(gpu.cpus); cpus && !cpus->empty()) {
    rank.cpus = util::format_cpu_list(util::cpu_list_part(*cpus, part, parts));
  }
  auto [nics, path] = nearest_adapters(gpu, topology);
  rank.nics = std::move(nics);
  rank.nic_path = path;
}

void set_environment(RankPlacement& rank, const ClusterNode& node) {
  std::vector<int> devices;
  if (node.topology) {
    for (const auto& gpu : node.topology->gpus) {
      devices.push_back(gpu.index);
    }
    std::sort(devices.begin(), devices.end());
  } else {
    for (int i = 0; i < node.gpus; ++i) {
      devices.push_back(i);
    }
  }
  // Every rank sees all of the node's GPUs in PCI order and picks device LOCAL_RANK, as
  // Megatron-LM and torchrun expect (torch.cuda.set_device(local_rank)).
  rank.env.emplace_back("LOCAL_RANK", std::to_string(rank.local_rank));
  rank.env.emplace_back("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
  rank.env.emplace_back("CUDA_VISIBLE_DEVICES", fmt::format("{}", fmt::join(devices, ",")));
  if (!rank.nics.empty()) {
    std::vector<std::string> hcas;
    for (const auto& name : rank.nics) {
      hcas.push_back(fmt::format("{}:{}", name, node.topology->find_nic(name)->port));
    }
    // A leading '=' makes NCCL match names exactly (mlx5_1 would also match mlx5_10).
    rank.env.emplace_back("NCCL_IB_HCA", fmt::format("={}", fmt::join(hcas, ",")));
  }
  if (!rank.cpus.empty()) {
    rank.bind = rank.numa_node >= 0
                    ? fmt::format("numactl --physcpubind={} --membind={}", rank.cpus, rank.numa_node)
                    : fmt::format("numactl --physcpubind={}", rank.cpus);
  }
}

} // namespace

RankMap build_rank_map(const plan::PlanFile& plan, const std::vector<ClusterNode>& nodes,
                       const std::vector<std::string>& order, std::int64_t decoder_layers, bool has_experts) {
  const auto& layout = plan.layout;
  RankMap map;
  map.layout = layout;
  map.decoder_layers = decoder_layers;
  map.stages = plan::resolve_stages(plan, decoder_layers);

  const RankGenerator dense(order, layout.tp, layout.cp, 1, layout.dp, layout.pp);
  // Megatron-LM: expert_tensor_parallel_size defaults to tensor_model_parallel_size.
  const int expert_tp = has_experts ? layout.etp : layout.tp;
  const int expert_ep = has_experts ? layout.ep : 1;
  const int expert_dp = layout.world() / (expert_tp * expert_ep * layout.pp);
  const RankGenerator expert(order, expert_tp, 1, expert_ep, expert_dp, layout.pp);
  if (dense.groups("pp") != expert.groups("pp")) {
    // Megatron asserts the same; it happens when pp is not last and expert-dp differs from dp.
    throw InputError(fmt::format(
        "order '{}': the pipeline groups of the dense and the expert layers differ (ep × etp = {} "
        "vs tp × cp = {}); put pp last in the order",
        fmt::join(order, "-"), expert_ep * expert_tp, layout.tp * layout.cp));
  }
  map.order = dense.order();

  const int world = layout.world();
  for (const auto& node : nodes) {
    map.total_gpus += node.gpus;
  }
  if (world > map.total_gpus) {
    // Named after the plan file when there is one: it is what the user would change.
    throw InputError(fmt::format("{}the plan needs {} ranks (tp {} × cp {} × dp {} × pp {}) but the nodes "
                                 "have {} GPUs ({} nodes)",
                                 plan.path.empty() ? std::string() : plan.path + ": ", world, layout.tp, layout.cp,
                                 layout.dp, layout.pp, map.total_gpus, nodes.size()));
  }

  int node_index = 0;
  int node_first_rank = 0;
  for (int r = 0; r < world; ++r) {
    while (r - node_first_rank >= nodes[static_cast<std::size_t>(node_index)].gpus) {
      node_first_rank += nodes[static_cast<std::size_t>(node_index)].gpus;
      ++node_index;
    }
    if (static_cast<std::size_t>(node_index) >= map.nodes.size()) {
      map.nodes.push_back(nodes[static_cast<std::size_t>(node_index)]);
    }
    RankPlacement rank;
    rank.rank = r;
    rank.node = node_index;
    rank.local_rank = r - node_first_rank;
    rank.gpu = rank.local_rank;
    rank.tp = dense.coordinate(r, "tp");
    rank.cp = dense.coordinate(r, "cp");
    rank.dp = dense.coordinate(r, "dp");
    rank.pp = dense.coordinate(r, "pp");
    rank.ep = expert.coordinate(r, "ep");
    rank.expert_tp = expert.coordinate(r, "tp");
    rank.expert_dp = expert.coordinate(r, "dp");
    rank.groups.tp = dense.group_of(r, "tp");
    rank.groups.cp = dense.group_of(r, "cp");
    rank.groups.dp = dense.group_of(r, "dp");
    rank.groups.dp_cp = dense.group_of(r, "dp-cp");
    rank.groups.pp = dense.group_of(r, "pp");
    rank.groups.ep = expert.group_of(r, "ep");
    rank.groups.expert_tp = expert.group_of(r, "tp");
    rank.groups.expert_dp = expert.group_of(r, "dp");
    rank.groups.embedding = embedding_group(rank.groups.pp);
    for (int v = 0; v < layout.vpp; ++v) {
      const int index = v * layout.pp + rank.pp;
      const auto& stage = map.stages[static_cast<std::size_t>(index)];
      rank.stages.push_back({v, index, stage.first_layer, stage.last_layer});
    }
    map.ranks.push_back(std::move(rank));
  }
  // Topology and environment need every rank of the node to be known (CPU sharing).
  for (auto& rank : map.ranks) {
    const auto& node = map.nodes[static_cast<std::size_t>(rank.node)];
    if (node.topology) {
      place_on_topology(rank, node, map.ranks, rank.rank - rank.local_rank);
    }
    set_environment(rank, node);
  }
  map.findings = check_rank_map(map);
  return map;
}

std::string slurm_hostfile(const RankMap& map) {
  std::string out;
  for (const auto& rank : map.ranks) {
    const auto& node = map.nodes[static_cast<std::size_t>(rank.node)];
    if (!node.named) {
      throw InputError(fmt::format("cannot write a hostfile: node group {} lists no hosts (add hosts: "
                                   "to the cluster file, e.g. from brix probe merge, or pass probe "
                                   "reports with --nodes)",
                                   node.group));
    }
    out += node.name + '\n';
  }
  return out;
}

} // namespace brix::shard
