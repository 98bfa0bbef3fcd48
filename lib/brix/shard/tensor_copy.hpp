#pragma once
// Copying tensor pieces between memory-mapped inputs and output files. A tensor split along
// dimension d is viewed as [outer, rows, row_bytes]: outer = the product of the dimensions
// before d, rows = shape[d], row_bytes = the bytes of one index of d. Piece k of n holds rows
// [k·rows/n, (k+1)·rows/n) of every outer slice; with outer = 1 it is one contiguous range.

#include <brix/util/output_file.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace brix::shard {

struct SplitGeometry {
  std::uint64_t outer = 1;
  std::uint64_t rows = 1;
  std::uint64_t row_bytes = 0;

  [[nodiscard]] std::uint64_t bytes() const { return outer * rows * row_bytes; }
};

/// The geometry of `shape` split along `dim` (dim < 0: the whole tensor as one row).
[[nodiscard]] SplitGeometry split_geometry(std::span<const std::int64_t> shape, int dim, std::size_t element_size);

/// Bytes the gather buffers hold at most before they are written out.
inline constexpr std::size_t k_copy_chunk = 8u << 20;

/// Calls `run` with the byte ranges of piece `part` of `parts` of `source`, in order: the piece's
/// bytes as a shard file holds them.
void for_each_run(std::span<const std::byte> source, const SplitGeometry& geometry, int part, int parts,
                  const std::function<void(std::span<const std::byte>)>& run);

/// Writes piece `part` of `parts` of `source` at `offset` of `out`. `buffer` is scratch space,
/// reused across calls (it grows to at most k_copy_chunk).
void write_piece(std::span<const std::byte> source, const SplitGeometry& geometry, int part, int parts,
                 const util::OutputFile& out, std::uint64_t offset, std::vector<std::byte>& buffer);

/// The inverse: joins `pieces` (piece k of parts = pieces.size()) into the whole tensor at
/// `offset` of `out`.
void write_joined(const std::vector<std::span<const std::byte>>& pieces, const SplitGeometry& geometry,
                  const util::OutputFile& out, std::uint64_t offset, std::vector<std::byte>& buffer);

} // namespace brix::shard
