#pragma once
// All-reduce (sum) of fp32 gradients with FP8 on the wire, over any ByteExchange:
//   1. each rank quantises its whole buffer (1 × 128 blocks, optional error feedback) and cuts
//      it into one shard per rank, at block boundaries;
//   2. all-to-all: shard j of every rank goes to rank j (FP8 codes + fp32 scales);
//   3. rank j dequantises and sums the N copies of its shard in fp32, in rank order;
//   4. rank j quantises the sum again;
//   5. all-gather of the quantised sums; every rank dequantises all of them.
// Every rank ends with the same bits. Wire bytes per rank: 2 (N-1) pieces of 132 · ceil(B/N)
// bytes (B = ceil(n/128) blocks), against 2 (N-1) · 4 · 128 · ceil(B/N) for fp32 — the
// fp8_wire_ratio of the shard. Error feedback covers step 1's error only; step 4 adds one more
// rounding of the sum (relative error per element ≤ 2^-4 in E4M3's normal range).

#include <brix/fp8/exchange.hpp>
#include <brix/fp8/scale_rule.hpp>

#include <cstdint>
#include <span>

namespace brix::fp8 {

/// How a buffer of `elements` values is cut into one shard per rank.
class Sharding {
public:
  /// InputError when elements < 0 or ranks < 1.
  Sharding(std::int64_t elements, int ranks);
  [[nodiscard]] std::int64_t blocks_per_shard() const { return m_blocks_per_shard; }
  [[nodiscard]] std::int64_t begin(int rank) const;
  [[nodiscard]] std::int64_t end(int rank) const;
  [[nodiscard]] std::int64_t elements(int rank) const { return end(rank) - begin(rank); }
  /// Bytes of one rank's piece on the wire: scales then codes, padded to the largest shard.
  [[nodiscard]] std::int64_t fp8_piece_bytes() const;
  [[nodiscard]] std::int64_t fp32_piece_bytes() const;

private:
  std::int64_t m_elements;
  std::int64_t m_blocks_per_shard;
};

struct AllReduceTraffic {
  std::int64_t bytes_sent = 0; ///< by this rank, to other ranks
};

/// In-place sum over ranks of `data` with FP8 on the wire (steps above). `residual` (same size
/// as data, zeros at first, kept between steps) turns on error feedback for step 1. Every rank
/// passes the same data.size().
AllReduceTraffic compressed_all_reduce(ByteExchange& exchange, std::span<float> data, Format format,
                                       std::span<float> residual = {});

/// The same exchange pattern in fp32 (all-to-all of shards, sum in rank order, all-gather): the
/// uncompressed baseline, and the exact fp32 sum in rank order.
AllReduceTraffic fp32_all_reduce(ByteExchange& exchange, std::span<float> data);

/// ‖got − exact‖₂ / ‖exact‖₂ over finite entries (0 when exact is all zeros and got equals it).
[[nodiscard]] double relative_error(std::span<const float> got, std::span<const double> exact);

} // namespace brix::fp8
