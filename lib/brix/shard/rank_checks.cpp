#include <brix/shard/rank_checks.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <set>

namespace brix::shard {

namespace {

std::string node_name(const RankMap& map, int rank) {
  return map.nodes[static_cast<std::size_t>(map.ranks[static_cast<std::size_t>(rank)].node)].name;
}

void check_tp_across_nodes(const RankMap& map, std::vector<Finding>& out) {
  std::set<std::vector<int>> seen;
  int spanning = 0;
  std::string example;
  for (const auto& rank : map.ranks) {
    if (!seen.insert(rank.groups.tp).second) {
      continue;
    }
    std::set<std::string> hosts;
    for (const int member : rank.groups.tp) {
      hosts.insert(node_name(map, member));
    }
    if (hosts.size() > 1) {
      if (spanning++ == 0) {
        example = fmt::format("ranks {} on {}", fmt::join(rank.groups.tp, ","), fmt::join(hosts, ", "));
      }
    }
  }
  if (spanning > 0) {
    out.push_back({"tp-across-nodes",
                   fmt::format("{} of {} tensor-parallel groups span nodes (e.g. {}): their all-reduces "
                               "run over the network instead of NVLink; use tp <= GPUs per node",
                               spanning, seen.size(), example)});
  }
}

/// Adapters whose port is down on nodes that host ranks, and which ranks had to fall back because
/// the adapter would otherwise have been theirs.
void check_adapters_down(const RankMap& map, std::vector<Finding>& out) {
  for (std::size_t n = 0; n < map.nodes.size(); ++n) {
    const auto& node = map.nodes[n];
    if (!node.topology) {
      continue;
    }
    for (const auto& nic : node.topology->nics) {
      if (!nic.down()) {
        continue;
      }
      std::vector<std::string> moved;
      for (const auto& rank : map.ranks) {
        if (rank.node != static_cast<int>(n)) {
          continue;
        }
        // The rank was moved when the down adapter is closer to its GPU than what it got.
        const auto gpu = std::find_if(node.topology->gpus.begin(), node.topology->gpus.end(),
                                      [&](const TopologyGpu& each) { return each.index == rank.gpu; });
        if (gpu == node.topology->gpus.end()) {
          continue;
        }
        for (const auto& listed : gpu->nearest_nics) {
          if (listed.name == nic.name && (rank.nic_path < 0 || static_cast<int>(listed.path) < rank.nic_path)) {
            moved.push_back(fmt::format("rank {} (GPU {}) -> {}", rank.rank, rank.gpu,
                                        rank.nics.empty() ? std::string("no adapter")
                                                          : fmt::format("{}", fmt::join(rank.nics, "+"))));
          }
        }
      }
      if (!nic.compute && moved.empty()) {
        continue; // a storage adapter no rank would use
      }
      out.push_back({"adapter-down",
                     fmt::format("{}: adapter {} port {} is {}{}{}; bring the port up or leave the node out", node.name,
                                 nic.name, nic.port, nic.port_state,
                                 moved.empty() ? "" : "; its ranks use the next-nearest active adapters: ",
                                 fmt::join(moved, "; "))});
    }
  }
}

void check_adapters(const RankMap& map, std::vector<Finding>& out) {
  check_adapters_down(map, out);
  std::vector<std::string> across;
  for (const auto& rank : map.ranks) {
    if (rank.nic_path == static_cast<int>(PathClass::sys)) {
      across.push_back(fmt::format("{} GPU {} -> {}", node_name(map, rank.rank), rank.gpu,
                                   fmt::join(rank.nics, "+")));
    }
  }
  if (!across.empty()) {
    out.push_back({"adapter-across-socket",
                   fmt::format("{} GPU(s) reach their nearest adapter only across the CPU socket "
                               "(SYS): {}{}",
                               across.size(), fmt::join(across.begin(), across.begin() + std::min<std::size_t>(4, across.size()), "; "),
                               across.size() > 4 ? "; ..." : "")});
  }
  for (std::size_t n = 0; n < map.nodes.size(); ++n) {
    const auto& node = map.nodes[n];
    if (!node.topology) {
      continue;
    }
    std::map<std::string, int> served;
    for (const auto& nic : node.topology->nics) {
      if (nic.compute && !nic.down()) {
        served[nic.name] = 0;
      }
    }
    for (const auto& rank : map.ranks) {
      if (rank.node == static_cast<int>(n)) {
        for (const auto& name : rank.nics) {
          ++served[name];
        }
      }
    }
    int low = 1 << 30;
    int high = 0;
    std::vector<std::string> parts;
    for (const auto& [name, count] : served) {
      low = std::min(low, count);
      high = std::max(high, count);
      parts.push_back(fmt::format("{} {}", name, count));
    }
    if (!served.empty() && low != high) {
      out.push_back({"adapters-uneven",
                     fmt::format("{}: compute adapters serve different numbers of ranks ({}); the "
                                 "busiest one limits every collective that leaves the node",
                                 node.name, fmt::join(parts, ", "))});
    }
  }
}

void check_stage_groups(const RankMap& map, std::vector<Finding>& out) {
  std::set<std::string> groups;
  for (const auto& node : map.nodes) {
    groups.insert(node.group);
  }
  for (const auto& rank : map.ranks) {
    for (const auto& stage : rank.stages) {
      const auto& wanted = map.stages[static_cast<std::size_t>(stage.stage)].node_group;
      const auto& node = map.nodes[static_cast<std::size_t>(rank.node)];
      if (!wanted.empty() && node.group != wanted) {
        out.push_back({"stage-node-group",
                       fmt::format("stage {} (layers {}-{}) is planned for node group {} but rank {} "
                                   "runs on {} of group {}{}; list the nodes in stage order",
                                   stage.stage, stage.first_layer, stage.last_layer, wanted, rank.rank,
                                   node.name, node.group,
                                   groups.count(wanted) == 0 ? " (no node of that group hosts ranks)" : "")});
        return; // the first one tells the story
      }
    }
  }
}

} // namespace

std::vector<Finding> check_rank_map(const RankMap& map) {
  std::vector<Finding> out;
  check_tp_across_nodes(map, out);
  check_adapters(map, out);
  std::set<std::string> without;
  for (const auto& node : map.nodes) {
    if (!node.topology) {
      without.insert(node.group);
    }
  }
  if (!without.empty()) {
    out.push_back({"no-topology",
                   fmt::format("no topology for node group(s) {}: CPUs, NUMA nodes and adapters are "
                               "unknown (add the topology block of brix probe --format yaml)",
                               fmt::join(without, ", "))});
  }
  check_stage_groups(map, out);
  const int used = static_cast<int>(map.ranks.size());
  if (used < map.total_gpus) {
    out.push_back({"idle-gpus", fmt::format("{} of {} GPUs stay idle (the plan has {} ranks)",
                                            map.total_gpus - used, map.total_gpus, used)});
  }
  return out;
}

} // namespace brix::shard
