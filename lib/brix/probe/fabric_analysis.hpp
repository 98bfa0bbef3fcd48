#pragma once
// What `brix-worker fabric` measured and which links and nodes are slow, the way nccl-tests
// users hunt a bad node: compare every link with the median of its class (inter-node links with
// inter-node links, intra-node with intra-node), then each node's links with the others.

#include <brix/probe/fabric_schedule.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace brix::probe {

struct LinkMeasurement {
  ScheduledLink link;
  double bandwidth_gb_per_s = 0; ///< bytes / time per exchange, each direction (1e9 bytes)
  double latency_us = 0;         ///< time of one small (8-byte) exchange
};

/// A deliberate slowdown of one node (`brix-worker fabric --throttle-node`), for drills.
struct Throttle {
  int node = 0;
  double factor = 1;
};

struct FabricResult {
  std::string backend;
  std::size_t bytes = 0; ///< message size of the bandwidth exchanges
  int iterations = 0;
  int ranks = 0;
  std::vector<std::string> node_names; ///< by node rank
  std::vector<LinkMeasurement> links;
  double allreduce_busbw_gb_per_s = 0; ///< all ranks, `bytes`, nccl-tests' bus bandwidth
  long allreduce_wrong = 0;
  std::optional<Throttle> throttle;
};

struct SlowNode {
  int node = 0;
  LinkClass link_class = LinkClass::inter_node;
  int slow_links = 0;
  int links = 0;
  double ratio = 0; ///< the node's median link over the median of the links not touching it
  std::string message;
};

struct FabricFindings {
  double threshold = 0.8;
  std::optional<double> inter_median; ///< GB/s, absent without such links
  std::optional<double> intra_median;
  std::vector<double> ratio; ///< per link: bandwidth / its class median
  std::vector<bool> slow;    ///< per link
  std::vector<SlowNode> slow_nodes;
  [[nodiscard]] bool healthy() const;
  [[nodiscard]] int slow_link_count() const;
};

/// The median (mean of the middle two for an even count); 0 for none.
[[nodiscard]] double median(std::vector<double> values);

/// A link is slow below `threshold` × its class median. A node is slow in a class when most of
/// its links there are slow, or when its median link is below `threshold` × the median of the
/// class's links not touching it (so one bad node of three, holding two of the three links,
/// still stands out). A node needs links of the class elsewhere to be compared: with two nodes
/// the one inter-node link cannot say which end is slow. `threshold` in (0, 1].
[[nodiscard]] FabricFindings analyse_fabric(const FabricResult& result, double threshold);

/// "n3" for node 2 when its name is unique, "127.0.0.1#2" when several nodes share it.
[[nodiscard]] std::string node_label(const FabricResult& result, int node);

} // namespace brix::probe
