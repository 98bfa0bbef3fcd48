#include <brix/probe/fabric_schedule.hpp>

#include <brix/util/error.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <map>

namespace brix::probe {

std::string_view link_class_name(LinkClass link_class) {
  return link_class == LinkClass::inter_node ? "inter-node" : "intra-node";
}

std::vector<std::vector<PlayerPair>> round_robin_rounds(int players) {
  std::vector<std::vector<PlayerPair>> rounds;
  if (players < 2) {
    return rounds;
  }
  // An odd field gets a phantom player; whoever meets it sits the round out.
  const int field = players + players % 2;
  std::vector<int> seats(static_cast<std::size_t>(field));
  for (int i = 0; i < field; ++i) {
    seats[static_cast<std::size_t>(i)] = i;
  }
  for (int round = 0; round < field - 1; ++round) {
    std::vector<PlayerPair> pairs;
    for (int i = 0; i < field / 2; ++i) {
      const int x = seats[static_cast<std::size_t>(i)];
      const int y = seats[static_cast<std::size_t>(field - 1 - i)];
      if (x < players && y < players) {
        pairs.push_back({std::min(x, y), std::max(x, y)});
      }
    }
    rounds.push_back(std::move(pairs));
    // Rotate every seat but the first one place.
    std::rotate(seats.begin() + 1, seats.end() - 1, seats.end());
  }
  return rounds;
}

int node_count(const std::vector<RankPlace>& places) {
  int nodes = 0;
  for (const auto& place : places) {
    nodes = std::max(nodes, place.node + 1);
  }
  return nodes;
}

std::vector<std::vector<ScheduledLink>> fabric_schedule(const std::vector<RankPlace>& places) {
  const int nodes = node_count(places);
  // Ranks of each node by local rank.
  std::vector<std::map<int, int>> members(static_cast<std::size_t>(nodes));
  for (std::size_t rank = 0; rank < places.size(); ++rank) {
    const auto& place = places[rank];
    if (place.node < 0 || place.local_rank < 0) {
      throw InputError(fmt::format("rank {}: node {} local rank {} (expected both >= 0)", rank,
                                   place.node, place.local_rank));
    }
    auto& node = members[static_cast<std::size_t>(place.node)];
    if (!node.emplace(place.local_rank, static_cast<int>(rank)).second) {
      throw InputError(fmt::format("ranks {} and {} are both local rank {} of node {} "
                                   "(expected one rank per local rank)",
                                   node.at(place.local_rank), rank, place.local_rank, place.node));
    }
  }
  for (int node = 0; node < nodes; ++node) {
    if (members[static_cast<std::size_t>(node)].empty()) {
      throw InputError(fmt::format("no rank on node {} of {} (expected node ranks 0..{})", node,
                                   nodes, nodes - 1));
    }
  }
  const auto end = [&](int node, int nth) {
    auto it = members[static_cast<std::size_t>(node)].begin();
    std::advance(it, nth);
    return LinkEnd{node, it->first, it->second};
  };
  std::vector<std::vector<ScheduledLink>> rounds;
  for (const auto& round : round_robin_rounds(nodes)) {
    std::vector<ScheduledLink> links;
    for (const auto& pair : round) {
      links.push_back({LinkClass::inter_node, end(pair.a, 0), end(pair.b, 0)});
    }
    rounds.push_back(std::move(links));
  }
  std::size_t most_local = 0;
  for (const auto& node : members) {
    most_local = std::max(most_local, node.size());
  }
  std::vector<std::vector<ScheduledLink>> intra;
  for (int node = 0; node < nodes; ++node) {
    const auto local =
        round_robin_rounds(static_cast<int>(members[static_cast<std::size_t>(node)].size()));
    intra.resize(std::max(intra.size(), local.size()));
    for (std::size_t round = 0; round < local.size(); ++round) {
      for (const auto& pair : local[round]) {
        intra[round].push_back({LinkClass::intra_node, end(node, pair.a), end(node, pair.b)});
      }
    }
  }
  for (auto& round : intra) {
    rounds.push_back(std::move(round));
  }
  return rounds;
}

} // namespace brix::probe
