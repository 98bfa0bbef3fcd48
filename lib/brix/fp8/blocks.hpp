#pragma once
// How a tensor is cut into scaling blocks. A [rows, cols] row-major tensor is covered by blocks
// of 1 × 128 (one scale per 128 consecutive elements of a row: activations and gradients) or
// 128 × 128 (DeepSeek-V3's `weight_block_size`). Edge blocks are partial when rows or cols is not
// a multiple of 128. Scales are row-major over the block grid, like DeepSeek's
// `weight_scale_inv` of shape [ceil(rows/128), ceil(cols/128)].

#include <cstdint>
#include <optional>
#include <string_view>

namespace brix::fp8 {

enum class BlockShape : std::uint8_t { row_1x128, tile_128x128 };

inline constexpr std::int64_t k_block_edge = 128;

struct TensorShape {
  std::int64_t rows = 1;
  std::int64_t cols = 0;
  [[nodiscard]] constexpr std::int64_t elements() const { return rows * cols; }
};

/// One block's rectangle: rows [row_begin, row_end), cols [col_begin, col_end).
struct BlockExtent {
  std::int64_t row_begin = 0;
  std::int64_t row_end = 0;
  std::int64_t col_begin = 0;
  std::int64_t col_end = 0;
};

/// The block grid of a tensor.
class BlockGrid {
public:
  /// InputError for negative sizes.
  BlockGrid(TensorShape shape, BlockShape block);

  [[nodiscard]] TensorShape shape() const { return m_shape; }
  [[nodiscard]] BlockShape block() const { return m_block; }
  [[nodiscard]] std::int64_t block_rows() const { return m_block_rows; }
  [[nodiscard]] std::int64_t block_cols() const { return m_block_cols; }
  /// Number of blocks = number of scales.
  [[nodiscard]] std::int64_t blocks() const { return m_block_rows * m_block_cols; }
  /// Block `index` in row-major order of the grid.
  [[nodiscard]] BlockExtent extent(std::int64_t index) const;

private:
  TensorShape m_shape;
  BlockShape m_block;
  std::int64_t m_block_rows = 0;
  std::int64_t m_block_cols = 0;
};

/// Rows of the tensor that one block spans (1 or 128).
[[nodiscard]] constexpr std::int64_t block_height(BlockShape block) {
  return block == BlockShape::row_1x128 ? 1 : k_block_edge;
}

/// ceil(a / b) for a >= 0, b > 0.
[[nodiscard]] constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

[[nodiscard]] std::string_view to_string(BlockShape block);
/// "1x128" or "128x128"; nullopt otherwise.
[[nodiscard]] std::optional<BlockShape> parse_block_shape(std::string_view text);

} // namespace brix::fp8
