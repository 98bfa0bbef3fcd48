#include <brix/fp8/compressed_allreduce.hpp>

#include <brix/fp8/quantize.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace brix::fp8 {

namespace {

/// One shard's compressed form inside a piece: scales first (4-byte aligned in the piece), then
/// codes, then zeros up to the piece size.
struct PieceLayout {
  std::int64_t blocks;
  std::int64_t elements;
};

PieceLayout piece_layout(const Sharding& sharding, int rank) {
  const std::int64_t elements = sharding.elements(rank);
  return {ceil_div(elements, k_block_edge), elements};
}

void write_piece(std::byte* piece, std::int64_t piece_bytes, PieceLayout layout, const float* scales,
                 const std::uint8_t* codes) {
  const auto scale_bytes = static_cast<std::size_t>(4 * layout.blocks);
  if (layout.elements > 0) { // a rank with no elements has null spans: memcpy must not see them
    std::memcpy(piece, scales, scale_bytes);
    std::memcpy(piece + scale_bytes, codes, static_cast<std::size_t>(layout.elements));
  }
  const auto used = scale_bytes + static_cast<std::size_t>(layout.elements);
  std::memset(piece + used, 0, static_cast<std::size_t>(piece_bytes) - used);
}

/// Dequantises (or dequantise-accumulates) a piece into `out` (layout.elements values).
void read_piece(const std::byte* piece, PieceLayout layout, Format format, std::span<float> out, bool accumulate) {
  std::vector<float> scales(static_cast<std::size_t>(layout.blocks));
  if (!scales.empty()) { // an empty piece: memcpy's pointers must not be null even for 0 bytes
    std::memcpy(scales.data(), piece, scales.size() * sizeof(float));
  }
  const std::span codes(reinterpret_cast<const std::uint8_t*>(piece) + scales.size() * sizeof(float),
                        static_cast<std::size_t>(layout.elements));
  const QuantizeSpec spec{{1, layout.elements}, BlockShape::row_1x128, format};
  if (accumulate) {
    dequantize_accumulate(spec, codes, scales, out);
  } else {
    dequantize(spec, codes, scales, out);
  }
}

std::span<float> shard_of(std::span<float> data, const Sharding& sharding, int rank) {
  return data.subspan(static_cast<std::size_t>(sharding.begin(rank)), static_cast<std::size_t>(sharding.elements(rank)));
}

} // namespace

Sharding::Sharding(std::int64_t elements, int ranks) : m_elements(elements) {
  if (elements < 0 || ranks < 1) {
    throw InputError("fp8 all-reduce: " + std::to_string(elements) + " elements over " + std::to_string(ranks) +
                     " ranks (expected >= 0 elements, >= 1 rank)");
  }
  m_blocks_per_shard = ceil_div(ceil_div(elements, k_block_edge), ranks);
}

std::int64_t Sharding::begin(int rank) const {
  return std::min(rank * m_blocks_per_shard * k_block_edge, m_elements);
}

std::int64_t Sharding::end(int rank) const { return begin(rank + 1); }

std::int64_t Sharding::fp8_piece_bytes() const { return m_blocks_per_shard * (4 + k_block_edge); }

std::int64_t Sharding::fp32_piece_bytes() const { return m_blocks_per_shard * k_block_edge * 4; }

AllReduceTraffic compressed_all_reduce(ByteExchange& exchange, std::span<float> data, Format format,
                                       std::span<float> residual) {
  const int ranks = exchange.size();
  const int me = exchange.rank();
  const auto n = static_cast<std::int64_t>(data.size());
  const Sharding sharding(n, ranks);
  const std::int64_t piece = sharding.fp8_piece_bytes();
  if (piece == 0) {
    return {};
  }
  // 1. Quantise the whole buffer: shards start at block boundaries, so its blocks are theirs.
  const QuantizeSpec spec{{1, n}, BlockShape::row_1x128, format};
  std::vector<std::uint8_t> codes(data.size());
  std::vector<float> scales(static_cast<std::size_t>(ceil_div(n, k_block_edge)));
  if (residual.empty()) {
    quantize(spec, data, codes, scales);
  } else {
    quantize_with_feedback(spec, data, residual, codes, scales);
  }
  std::vector<std::byte> send(static_cast<std::size_t>(piece * ranks));
  for (int rank = 0; rank < ranks; ++rank) {
    const std::int64_t first = sharding.begin(rank);
    write_piece(send.data() + rank * piece, piece, piece_layout(sharding, rank),
                scales.data() + first / k_block_edge, codes.data() + first);
  }
  // 2-3. Exchange shards; sum this rank's shard over ranks in fp32, in rank order.
  std::vector<std::byte> recv(send.size());
  exchange.all_to_all(send, recv, static_cast<std::size_t>(piece));
  const PieceLayout mine = piece_layout(sharding, me);
  std::vector<float> sum(static_cast<std::size_t>(mine.elements), 0.0f);
  for (int rank = 0; rank < ranks; ++rank) {
    read_piece(recv.data() + rank * piece, mine, format, sum, true);
  }
  // 4-5. Quantise the sum, gather every rank's, dequantise all (this rank's too, so that every
  // rank holds the same bits).
  std::vector<std::uint8_t> sum_codes(sum.size());
  std::vector<float> sum_scales(static_cast<std::size_t>(mine.blocks));
  quantize({{1, mine.elements}, BlockShape::row_1x128, format}, sum, sum_codes, sum_scales);
  std::vector<std::byte> own(static_cast<std::size_t>(piece));
  write_piece(own.data(), piece, mine, sum_scales.data(), sum_codes.data());
  exchange.all_gather(own, recv);
  for (int rank = 0; rank < ranks; ++rank) {
    read_piece(recv.data() + rank * piece, piece_layout(sharding, rank), format, shard_of(data, sharding, rank), false);
  }
  return {2 * (ranks - 1) * piece};
}

AllReduceTraffic fp32_all_reduce(ByteExchange& exchange, std::span<float> data) {
  const int ranks = exchange.size();
  const Sharding sharding(static_cast<std::int64_t>(data.size()), ranks);
  const std::int64_t piece = sharding.fp32_piece_bytes();
  if (piece == 0) {
    return {};
  }
  std::vector<std::byte> send(static_cast<std::size_t>(piece * ranks));
  for (int rank = 0; rank < ranks; ++rank) {
    const auto shard = shard_of(data, sharding, rank);
    std::memcpy(send.data() + rank * piece, shard.data(), shard.size_bytes());
  }
  std::vector<std::byte> recv(send.size());
  exchange.all_to_all(send, recv, static_cast<std::size_t>(piece));
  std::vector<float> sum(static_cast<std::size_t>(sharding.elements(exchange.rank())), 0.0f);
  std::vector<float> part(sum.size());
  for (int rank = 0; rank < ranks; ++rank) {
    std::memcpy(part.data(), recv.data() + rank * piece, part.size() * sizeof(float));
    for (std::size_t i = 0; i < sum.size(); ++i) {
      sum[i] = add_rn(sum[i], part[i]);
    }
  }
  std::vector<std::byte> own(static_cast<std::size_t>(piece));
  std::memcpy(own.data(), sum.data(), sum.size() * sizeof(float));
  exchange.all_gather(own, recv);
  for (int rank = 0; rank < ranks; ++rank) {
    const auto shard = shard_of(data, sharding, rank);
    std::memcpy(shard.data(), recv.data() + rank * piece, shard.size_bytes());
  }
  return {2 * (ranks - 1) * piece};
}

double relative_error(std::span<const float> got, std::span<const double> exact) {
  if (got.size() != exact.size()) {
    throw InputError("relative_error: " + std::to_string(got.size()) + " values against " +
                     std::to_string(exact.size()) + " (expected the same count)");
  }
  double error = 0;
  double norm = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isfinite(exact[i])) {
      error += (got[i] - exact[i]) * (got[i] - exact[i]);
      norm += exact[i] * exact[i];
    }
  }
  return norm > 0 ? std::sqrt(error / norm) : std::sqrt(error);
}

} // namespace brix::fp8
