#include <brix/fp8/blocks.hpp>

#include <brix/util/error.hpp>

#include <algorithm>
#include <string>

namespace brix::fp8 {

BlockGrid::BlockGrid(TensorShape shape, BlockShape block) : m_shape(shape), m_block(block) {
  if (shape.rows < 0 || shape.cols < 0) {
    throw InputError("fp8: tensor shape [" + std::to_string(shape.rows) + ", " +
                     std::to_string(shape.cols) + "] has a negative size (expected rows, cols >= 0)");
  }
  m_block_rows = ceil_div(shape.rows, block_height(block));
  m_block_cols = ceil_div(shape.cols, k_block_edge);
}

BlockExtent BlockGrid::extent(std::int64_t index) const {
  const std::int64_t block_row = index / m_block_cols;
  const std::int64_t block_col = index % m_block_cols;
  const std::int64_t height = block_height(m_block);
  BlockExtent out;
  out.row_begin = block_row * height;
  out.row_end = std::min(out.row_begin + height, m_shape.rows);
  out.col_begin = block_col * k_block_edge;
  out.col_end = std::min(out.col_begin + k_block_edge, m_shape.cols);
  return out;
}

std::string_view to_string(BlockShape block) {
  return block == BlockShape::row_1x128 ? "1x128" : "128x128";
}

std::optional<BlockShape> parse_block_shape(std::string_view text) {
  if (text == "1x128") {
    return BlockShape::row_1x128;
  }
  if (text == "128x128") {
    return BlockShape::tile_128x128;
  }
  return std::nullopt;
}

} // namespace brix::fp8
