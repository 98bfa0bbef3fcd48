#pragma once
// `brix-worker fabric`: point-to-point bandwidth and latency of every node pair (one rank per
// node) and of every pair of local ranks within a node, in rounds of disjoint pairs, plus an
// all-reduce over every rank for reference. Every rank runs it; every rank gets the result.

#include <brix/collective/communicator.hpp>
#include <brix/launch/environment.hpp>
#include <brix/probe/fabric_analysis.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace brix::worker {

struct FabricOptions {
  std::size_t bytes = std::size_t{64} << 20; ///< per exchange, each direction
  int warmup = 2;
  int iterations = 10;
  /// Fault injection for drills: this node's ranks wait (factor − 1) × their fastest exchange so
  /// far before each of their sends, so its links run `factor` times slower.
  std::optional<probe::Throttle> throttle;
};

/// This rank's node: BRIX_NODE_RANK and BRIX_NODE from `brix launch` (an InputError without).
struct NodeOfRank {
  probe::RankPlace place;
  std::string node_name;
};
[[nodiscard]] NodeOfRank node_of_rank(const util::EnvLookup& env, int local_rank);

[[nodiscard]] probe::FabricResult run_fabric(collective::Communicator& comm,
                                             const FabricOptions& options, const NodeOfRank& me);

} // namespace brix::worker
