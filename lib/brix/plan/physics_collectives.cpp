// Collectives over NVLink and the network (ring and tree collectives, NCCL all-to-all, the expert
// dispatch's all-to-all), and what synchronising many ranks costs: the slowest rank's noise, expert
// load imbalance, communication overlapped with compute.
#include <brix/plan/physics.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace brix::plan {

double sync_slowdown(int gpus) {
  return gpus > 1 ? 1.0 + k_sync_noise * std::sqrt(2.0 * std::log(static_cast<double>(gpus))) : 1.0;
}

double micro_batch_sync_seconds(double micro_batches, double stage_s, int ranks) {
  if (ranks <= 1) {
    return 0.0;
  }
  return micro_batches * stage_s * k_micro_batch_noise * std::sqrt(2.0 * std::log(static_cast<double>(ranks)));
}

double overlapped_seconds(double compute, double comm, double contention) {
  return std::max(comm, compute + contention * std::min(compute, comm));
}

double expert_load_imbalance(int ep, double experts_per_rank) {
  if (ep <= 1 || experts_per_rank <= 0) {
    return 1.0;
  }
  return 1.0 + k_expert_load_spread * std::sqrt(2.0 * std::log(static_cast<double>(ep))) /
                   std::sqrt(experts_per_rank);
}

double bus_factor(Collective op, int ranks) {
  if (ranks <= 1) {
    return 0.0;
  }
  const double n = ranks;
  switch (op) {
  case Collective::all_reduce:
    return 2.0 * (n - 1.0) / n;
  case Collective::all_gather:
  case Collective::reduce_scatter:
  case Collective::all_to_all:
    return (n - 1.0) / n;
  case Collective::send_recv:
    return 1.0;
  }
  return 1.0;
}

namespace {
/// NCCL's all-to-all of `bytes` per rank across nodes: the off-node share through the GPU's
/// one adapter (k_nic_fraction of it, less what the fabric's shape leaves), the on-node share
/// over NVLink beside it, and a cost per remote peer's message.
double flat_all_to_all_seconds(const DeviceModel& device, double bytes, const GroupPlacement& placement) {
  const double on_node = static_cast<double>(placement.ranks_per_node) / placement.ranks;
  const double seconds = std::max(bytes * (1.0 - on_node) / (device.inter_busbw_per_gpu * device.all_to_all_fraction),
                                  bytes * on_node / device.intra_busbw);
  const double remote_peers = placement.ranks - placement.ranks_per_node;
  return seconds + remote_peers * device.all_to_all_peer_s + device.inter_latency_s;
}
} // namespace

double collective_seconds(const DeviceModel& device, Collective op, double bytes,
                          const GroupPlacement& placement) {
  if (placement.ranks <= 1 || bytes <= 0) {
    return 0.0;
  }
  const double factor = bus_factor(op, placement.ranks);
  // A point-to-point send is one message to one neighbour: one latency, however large the
  // group it belongs to (NCCL's sendrecv, nccl-tests sendrecv_perf), where rings pay per step.
  const bool point_to_point = op == Collective::send_recv;
  if (!placement.crosses_nodes()) {
    const double steps = point_to_point                  ? 1.0
                         : op == Collective::all_reduce ? 2.0 * (placement.ranks - 1)
                                                        : placement.ranks - 1;
    return bytes * factor / device.intra_busbw + device.intra_latency_s * std::min(steps, 8.0);
  }
  if (op == Collective::all_to_all) {
    return flat_all_to_all_seconds(device, bytes, placement);
  }
  // Across nodes the node's adapters carry the traffic of its ranks in the group; rings use
  // every adapter of the node, so the group's bus bandwidth is ranks_per_node adapters' worth,
  // capped by NVLink.
  const double rails = device.multi_rail ? placement.ranks_per_node : 1.0;
  const double inter = std::min(device.intra_busbw, device.inter_busbw_per_gpu * device.ring_fraction * rails);
  const double nodes = static_cast<double>(placement.ranks) / placement.ranks_per_node;
  // Ring latency grows with the nodes on the ring; NCCL's trees make it logarithmic.
  const double hops = point_to_point ? 1.0 : 2.0 * std::log2(std::max(2.0, nodes));
  return bytes * factor / inter + device.inter_latency_s * hops;
}

double consecutive_expert_nodes(int experts, int experts_per_token, int nodes) {
  if (experts <= 0 || experts_per_token <= 0 || nodes <= 1) {
    return 1.0;
  }
  const int per_node = std::max(1, experts / nodes);
  // Token t starts at (t·k) mod experts: the starts repeat after experts / gcd(k, experts) tokens.
  const int period = experts / std::gcd(experts_per_token, experts);
  double sum = 0;
  std::vector<char> seen(static_cast<std::size_t>(nodes));
  for (int t = 0; t < period; ++t) {
    std::fill(seen.begin(), seen.end(), 0);
    int distinct = 0;
    for (int j = 0; j < experts_per_token; ++j) {
      const long long expert = (static_cast<long long>(t) * experts_per_token + j) % experts;
      const auto node = static_cast<std::size_t>(std::min<long long>(expert / per_node, nodes - 1));
      if (seen[node] == 0) {
        seen[node] = 1;
        ++distinct;
      }
    }
    sum += distinct;
  }
  return sum / period;
}

double expert_all_to_all_seconds(const DeviceModel& device, const ExpertTraffic& traffic, const GroupPlacement& ep) {
  if (ep.ranks <= 1 || traffic.tokens <= 0) {
    return 0.0;
  }
  const double k = traffic.experts_per_token;
  const double copies = traffic.tokens * k * traffic.bytes_per_token; // every token-expert copy
  if (!ep.crosses_nodes()) {
    return copies * (1.0 - 1.0 / ep.ranks) / device.intra_busbw + device.intra_latency_s;
  }
  if (!traffic.hierarchical) {
    // The permuted tokens, one copy per expert, in one NCCL all-to-all (Megatron's alltoall
    // dispatcher).
    return flat_all_to_all_seconds(device, copies, ep);
  }
  const double nodes = static_cast<double>(ep.ranks) / ep.ranks_per_node;
  const double local_share = 1.0 / nodes;
  // Expected distinct nodes among k experts drawn evenly over the nodes (or the consecutive
  // experts' nodes, SoftwareProfile::consecutive_balanced_experts), capped by routing; every
  // node is the token's own as often as any other, so the share on this node stays on NVLink.
  const double spread = traffic.consecutive_of_experts > 0
                            ? consecutive_expert_nodes(traffic.consecutive_of_experts, static_cast<int>(std::lround(k)),
                                                       static_cast<int>(std::lround(nodes)))
                            : nodes * (1.0 - std::pow(1.0 - local_share, k));
  const double distinct = std::min(spread, traffic.max_nodes_per_token);
  const double network = traffic.tokens * distinct * (1.0 - local_share) * traffic.bytes_per_token;
  const double over_network = network / (device.inter_busbw_per_gpu * device.all_to_all_fraction);
  const double over_nvlink = copies / device.intra_busbw; // fan-out on NVLink
  return std::max(over_network, over_nvlink) + device.inter_latency_s * nodes;
}

} // namespace brix::plan
