// The all-to-all cost model against published microbenchmarks: nccl-tests' alltoall_perf on
// H800 nodes with one 400 Gb/s adapter per GPU (physics.cpp quotes each figure and its source).

#include <brix/cluster/loader.hpp>
#include <brix/plan/physics.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>

using namespace brix::plan;
using brix::cluster::NetworkShape;

namespace {
/// `nodes` of the catalog's usual 8-GPU H800 node: NVLink 400 GB/s both directions, one
/// 400 Gb/s CX7 per GPU (the nodes of the published figures below).
brix::cluster::NodeGroup hgx_h800(int nodes) {
  return brix::cluster::shorthand_cluster(nodes, 8, "h800-sxm", std::nullopt, std::nullopt).groups.front();
}

/// nccl-tests' alltoall bus bandwidth: algbw × (n−1)/n (nccl-tests issue 130).
double alltoall_busbw(double bytes, int ranks, double seconds) {
  return bytes / seconds * (ranks - 1.0) / ranks;
}
} // namespace

TEST_CASE("plan::NCCL all-to-all over 8 nodes of H800 follows alltoall_perf") {
  const auto device = device_model(hgx_h800(8), false, NetworkShape::single_switch, 1.0);
  const GroupPlacement placement{64, 8};
  // NVIDIA/nccl issue 1531: 8 MiB per rank (128 KiB per peer) at 24.44 GB/s busbw. This is the
  // point the per-peer cost was read from, so it must come back within rounding.
  const double small = 8388608.0;
  CHECK(alltoall_busbw(small, 64, collective_seconds(device, Collective::all_to_all, small, placement)) ==
        doctest::Approx(24.44e9).epsilon(0.03));
  // Large messages: one adapter per GPU carries the off-node 7/8, so busbw tends to
  // (63/64)/(7/8) × the adapter's achievable 0.85 × 50 GB/s ("N/(N-1)x the bandwidth per GPU,
  // N being the number of nodes", S. Jeaugey, nccl-tests issues 130 and 267).
  const double large = 1024.0 * 1024 * 1024;
  CHECK(alltoall_busbw(large, 64, collective_seconds(device, Collective::all_to_all, large, placement)) ==
        doctest::Approx((63.0 / 64.0) / (7.0 / 8.0) * 0.85 * 50e9).epsilon(0.01));
}

TEST_CASE("plan::NCCL all-to-all pays per remote peer, so many ranks with small messages run below the adapter") {
  const auto device = device_model(hgx_h800(32), false, NetworkShape::single_switch, 1.0);
  // The same 4 MiB per rank spread over 2 and over 32 nodes: nearly the same off-node bytes
  // per GPU (1/2 vs 31/32), but 8 vs 248 remote peers' messages of 256 KiB vs 16 KiB.
  const double bytes = 4.0 * 1024 * 1024;
  const double two_nodes = collective_seconds(device, Collective::all_to_all, bytes, {16, 8});
  const double many_nodes = collective_seconds(device, Collective::all_to_all, bytes, {256, 8});
  const double adapter = 0.85 * 50e9;
  CHECK(two_nodes == doctest::Approx(bytes * 0.5 / adapter + 8 * device.all_to_all_peer_s + device.inter_latency_s));
  CHECK(many_nodes == doctest::Approx(bytes * 31.0 / 32.0 / adapter + 248 * device.all_to_all_peer_s + device.inter_latency_s));
  // Achieved off-node bandwidth per GPU: over 32 nodes less than half of what 2 nodes reach.
  CHECK(bytes * 31.0 / 32.0 / many_nodes < 0.5 * (bytes * 0.5 / two_nodes));
}

TEST_CASE("plan::expert_all_to_all_seconds: Megatron's NCCL dispatch is one all-to-all of the token-expert copies") {
  const auto device = device_model(hgx_h800(4), false, NetworkShape::rail_optimized, 1.0);
  ExpertTraffic traffic;
  traffic.tokens = 4096;
  traffic.experts_per_token = 8;
  traffic.bytes_per_token = 7168 * 2.0;
  traffic.hierarchical = false;
  const GroupPlacement ep{32, 8};
  const double copies = 4096 * 8 * 7168 * 2.0;
  CHECK(expert_all_to_all_seconds(device, traffic, ep) ==
        doctest::Approx(collective_seconds(device, Collective::all_to_all, copies, ep)));
  // Inside one node it is NVLink only, the GPU's own share staying where it is.
  CHECK(expert_all_to_all_seconds(device, traffic, {8, 8}) ==
        doctest::Approx(copies * 7.0 / 8.0 / (200e9 * 0.8) + device.intra_latency_s));
}

TEST_CASE("plan::consecutive_expert_nodes counts the nodes a fake-balanced token's consecutive experts span") {
  // DeepSeek-V3 (256 experts, top-8) over 8 nodes, 32 experts each: every token's 8 experts start
  // at a multiple of 8 and sit on one node.
  CHECK(consecutive_expert_nodes(256, 8, 8) == doctest::Approx(1.0));
  // gpt-oss-120b (128 experts, top-4) over 8 nodes: one node.
  CHECK(consecutive_expert_nodes(128, 4, 8) == doctest::Approx(1.0));
  // 12 experts, top-4, 6 per node: starts 0, 4, 8 span 1, 2, 1 nodes.
  CHECK(consecutive_expert_nodes(12, 4, 2) == doctest::Approx(4.0 / 3.0));
  // Top-3 of 8 experts over 4 nodes (2 each): any 3 consecutive experts, wrapping past the last
  // (6, 7, 0), span 2 nodes.
  CHECK(consecutive_expert_nodes(8, 3, 4) == doctest::Approx(2.0));
  CHECK(consecutive_expert_nodes(256, 8, 1) == doctest::Approx(1.0));
}

TEST_CASE("plan::expert_all_to_all_seconds: DeepEP sends a consecutive-expert token to one node, not ~5") {
  const auto device = device_model(hgx_h800(8), false, NetworkShape::rail_optimized, 1.0);
  ExpertTraffic traffic;
  traffic.tokens = 4096;
  traffic.experts_per_token = 8;
  traffic.bytes_per_token = 7168 * 2.0;
  traffic.hierarchical = true;
  const GroupPlacement ep{64, 8};
  const double spread = expert_all_to_all_seconds(device, traffic, ep);
  traffic.consecutive_of_experts = 256;
  const double consecutive = expert_all_to_all_seconds(device, traffic, ep);
  // Random top-8 over 8 nodes reaches 8·(1 − (7/8)^8) ≈ 5.25 nodes; consecutive experts reach 1,
  // this node 1/8 of the time. The NVLink fan-out of the 8 copies is unchanged and now the bound.
  const double one_node = 4096 * 1.0 * (7.0 / 8.0) * 7168 * 2.0;
  const double copies = 4096 * 8 * 7168 * 2.0;
  CHECK(consecutive == doctest::Approx(std::max(one_node / (device.inter_busbw_per_gpu * device.all_to_all_fraction),
                                                copies / device.intra_busbw) +
                                       8 * device.inter_latency_s));
  CHECK(consecutive < spread / 2.0);
}
