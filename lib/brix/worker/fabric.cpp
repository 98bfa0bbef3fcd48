#include <brix/worker/fabric.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>
#include <brix/worker/bench.hpp>

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <thread>
#include <vector>

namespace brix::worker {
namespace {

using collective::DataType;
using Clock = std::chrono::steady_clock;

constexpr std::size_t k_latency_bytes = 8;

/// One end of the exchanges of a link.
class LinkEnd {
public:
  LinkEnd(collective::Communicator& comm, const FabricOptions& options, bool throttled)
      : m_comm(comm), m_options(options), m_throttled(throttled),
        m_send(comm.allocate(options.bytes)), m_recv(comm.allocate(options.bytes)) {
    const std::vector<float> fill(options.bytes / sizeof(float), static_cast<float>(comm.rank()));
    comm.copy_in(*m_send, 0, fill.data(), fill.size() * sizeof(float));
  }

  /// Seconds of the median timed exchange: robust against the odd descheduled exchange on a
  /// shared host, where the mean of a few exchanges is not.
  double seconds_per_exchange(int peer, std::size_t bytes) {
    m_fastest_transfer = std::chrono::duration<double>::max();
    for (int i = 0; i < m_options.warmup; ++i) {
      (void)exchange(peer, bytes);
    }
    std::vector<double> seconds;
    for (int i = 0; i < m_options.iterations; ++i) {
      seconds.push_back(exchange(peer, bytes));
    }
    return probe::median(seconds);
  }

private:
  /// A throttled end waits (factor − 1) × its fastest transfer so far before sending, inside
  /// the timed exchange: both ends then see the link `factor` times slower. The fastest, not
  /// the last: when both ends are throttled (an intra-node link) each transfer also holds the
  /// other end's wait, and waits based on that would grow without bound.
  double exchange(int peer, std::size_t bytes) {
    const auto start = Clock::now();
    if (m_throttled && m_fastest_transfer != std::chrono::duration<double>::max()) {
      std::this_thread::sleep_for(m_fastest_transfer * (m_options.throttle->factor - 1));
    }
    const auto transfer_start = Clock::now();
    m_comm.exchange(m_send->data(), m_recv->data(), bytes, DataType::u8, peer);
    m_comm.synchronize();
    const auto end = Clock::now();
    m_fastest_transfer =
        std::min<std::chrono::duration<double>>(m_fastest_transfer, end - transfer_start);
    return std::chrono::duration<double>(end - start).count();
  }

  collective::Communicator& m_comm;
  const FabricOptions& m_options;
  bool m_throttled;
  std::unique_ptr<collective::Buffer> m_send;
  std::unique_ptr<collective::Buffer> m_recv;
  std::chrono::duration<double> m_fastest_transfer{0};
};

/// Element-wise sum over ranks of `values` (every rank passes as many).
std::vector<double> sum_per_element(collective::Communicator& comm,
                                    const std::vector<double>& values) {
  std::vector<float> floats(values.begin(), values.end());
  auto buffer = comm.allocate(std::max<std::size_t>(floats.size(), 1) * sizeof(float));
  comm.copy_in(*buffer, 0, floats.data(), floats.size() * sizeof(float));
  comm.all_reduce(buffer->data(), buffer->data(), floats.size(), DataType::f32);
  comm.synchronize();
  comm.copy_out(floats.data(), *buffer, 0, floats.size() * sizeof(float));
  return {floats.begin(), floats.end()};
}

std::vector<NodeOfRank> gather_nodes(collective::Communicator& comm, const NodeOfRank& me) {
  std::vector<NodeOfRank> nodes;
  const auto mine = fmt::format("{} {} {}", me.place.node, me.place.local_rank, me.node_name);
  for (const auto& record : gather_descriptions(comm, mine)) {
    const auto fields = util::split(record, ' ');
    NodeOfRank node;
    node.place.node = static_cast<int>(util::parse_int(fields.at(0)).value_or(-1));
    node.place.local_rank = static_cast<int>(util::parse_int(fields.at(1)).value_or(-1));
    node.node_name = fields.size() > 2 ? fields[2] : "";
    nodes.push_back(node);
  }
  return nodes;
}

} // namespace

NodeOfRank node_of_rank(const util::EnvLookup& env, int local_rank) {
  const auto node_rank = env("BRIX_NODE_RANK");
  const auto parsed = node_rank ? util::parse_int(*node_rank) : std::nullopt;
  if (!parsed || *parsed < 0) {
    throw InputError(fmt::format("BRIX_NODE_RANK '{}' (expected a node rank >= 0: run "
                                 "brix-worker fabric under brix launch)",
                                 node_rank.value_or("")));
  }
  NodeOfRank me;
  me.place = {static_cast<int>(*parsed), local_rank};
  me.node_name = env("BRIX_NODE").value_or(fmt::format("node{}", *parsed));
  return me;
}

probe::FabricResult run_fabric(collective::Communicator& comm, const FabricOptions& options,
                               const NodeOfRank& me) {
  if (options.bytes < k_latency_bytes || options.iterations < 1 || options.warmup < 0) {
    throw InputError(fmt::format("fabric: {} bytes, {} iterations, {} warm-up (expected at least "
                                 "{} bytes and 1 iteration)",
                                 options.bytes, options.iterations, options.warmup,
                                 k_latency_bytes));
  }
  const auto nodes = gather_nodes(comm, me);
  std::vector<probe::RankPlace> places;
  for (const auto& node : nodes) {
    places.push_back(node.place);
  }
  const auto rounds = probe::fabric_schedule(places);
  probe::FabricResult result;
  result.backend = std::string(comm.backend());
  result.bytes = options.bytes;
  result.iterations = options.iterations;
  result.ranks = comm.size();
  result.throttle = options.throttle;
  result.node_names.resize(static_cast<std::size_t>(probe::node_count(places)));
  for (const auto& node : nodes) {
    result.node_names[static_cast<std::size_t>(node.place.node)] = node.node_name;
  }
  if (options.throttle && options.throttle->node >= static_cast<int>(result.node_names.size())) {
    // Every rank sees the same node count, so every rank stops here alike.
    throw InputError(fmt::format("--throttle-node {} (expected a node rank < {})",
                                 options.throttle->node, result.node_names.size()));
  }
  const bool throttled = options.throttle && options.throttle->node == me.place.node;
  LinkEnd end(comm, options, throttled);
  // Seconds per exchange as each end saw them (bandwidth, latency); summed over ranks below.
  std::vector<double> seconds;
  for (const auto& round : rounds) {
    for (const auto& link : round) {
      const int rank = comm.rank();
      const int peer = link.a.rank == rank ? link.b.rank : link.b.rank == rank ? link.a.rank : -1;
      seconds.push_back(peer < 0 ? 0 : end.seconds_per_exchange(peer, options.bytes));
      seconds.push_back(peer < 0 ? 0 : end.seconds_per_exchange(peer, k_latency_bytes));
      result.links.push_back({link, 0, 0});
    }
    comm.barrier(); // the next round's pairs start together, alone on their ends
  }
  const auto totals = sum_per_element(comm, seconds);
  for (std::size_t i = 0; i < result.links.size(); ++i) {
    const double bandwidth_seconds = totals[2 * i] / 2; // the mean of the two ends
    const double latency_seconds = totals[2 * i + 1] / 2;
    result.links[i].bandwidth_gb_per_s =
        static_cast<double>(options.bytes) / bandwidth_seconds / 1e9;
    result.links[i].latency_us = latency_seconds * 1e6;
  }
  BenchOptions allreduce;
  allreduce.op = BenchOp::all_reduce;
  allreduce.min_bytes = allreduce.max_bytes = options.bytes;
  allreduce.warmup = options.warmup;
  allreduce.iterations = options.iterations;
  const auto report = run_bench(comm, allreduce,
                                fmt::format("{} local rank {}", me.node_name, me.place.local_rank));
  result.allreduce_busbw_gb_per_s =
      report.rows.empty() ? 0 : report.rows.front().out_of_place.busbw;
  result.allreduce_wrong = report.wrong;
  return result;
}

} // namespace brix::worker
