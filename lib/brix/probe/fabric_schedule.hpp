#pragma once
// Which links `brix-worker fabric` measures, in which order: rounds of pairs that run at the
// same time without sharing an endpoint, so every link is measured alone on its two ends.

#include <string_view>
#include <vector>

namespace brix::probe {

enum class LinkClass { inter_node, intra_node };

[[nodiscard]] std::string_view link_class_name(LinkClass link_class); ///< "inter-node", ...

struct PlayerPair {
  int a = 0;
  int b = 0;
};

/// The round-robin tournament by the circle method: player 0 stays put, the others rotate.
/// n−1 rounds for even n, n rounds for odd n (one player sits out each round); every pair meets
/// exactly once and nobody plays twice in a round. Pairs have a < b.
[[nodiscard]] std::vector<std::vector<PlayerPair>> round_robin_rounds(int players);

/// Where a rank runs: its node rank and its local rank on that node.
struct RankPlace {
  int node = 0;
  int local_rank = 0;
};

struct LinkEnd {
  int node = 0;
  int local_rank = 0;
  int rank = 0;
};

struct ScheduledLink {
  LinkClass link_class = LinkClass::inter_node;
  LinkEnd a;
  LinkEnd b;
};

/// Every node pair between the nodes' lowest local ranks (inter-node rounds first), then every
/// pair of local ranks within each node, all nodes' intra-node pairs of a round at once. Node
/// ranks must be 0..N−1 and local ranks distinct per node (an InputError otherwise).
[[nodiscard]] std::vector<std::vector<ScheduledLink>>
fabric_schedule(const std::vector<RankPlace>& places);

/// The number of nodes in `places` (highest node rank + 1).
[[nodiscard]] int node_count(const std::vector<RankPlace>& places);

} // namespace brix::probe
