#include <brix/fp8/quantize.hpp>

#include <brix/fp8/format.hpp>
#include <brix/util/error.hpp>

#include <string>

namespace brix::fp8 {

namespace {

void check_size(std::string_view what, std::size_t got, std::int64_t expected) {
  if (static_cast<std::int64_t>(got) != expected) {
    throw InputError("fp8: " + std::string(what) + " holds " + std::to_string(got) +
                     " values (expected " + std::to_string(expected) + ")");
  }
}

/// Checks the sizes of element-wise and per-block spans against the spec; returns the grid.
BlockGrid checked_grid(const QuantizeSpec& spec, std::size_t values, std::size_t codes,
                       std::size_t scales) {
  BlockGrid grid(spec.shape, spec.block);
  check_size("the value buffer", values, spec.shape.elements());
  check_size("the code buffer", codes, spec.shape.elements());
  check_size("the scale buffer", scales, grid.blocks());
  return grid;
}

/// Calls visit(element_index) for every element of one block, row by row.
template <typename Visit>
void for_each_element(const BlockExtent& extent, std::int64_t cols, Visit&& visit) {
  for (std::int64_t row = extent.row_begin; row < extent.row_end; ++row) {
    const std::int64_t base = row * cols;
    for (std::int64_t col = extent.col_begin; col < extent.col_end; ++col) {
      visit(base + col);
    }
  }
}

/// Quantises every block of `value(i)` (the element to encode); `after(i, code, scale)` sees
/// each code, for error feedback.
template <typename Value, typename After>
void quantize_blocks(const BlockGrid& grid, Format format, Value&& value,
                     std::span<std::uint8_t> codes, std::span<float> scales, After&& after) {
  const std::int64_t cols = grid.shape().cols;
  for (std::int64_t block = 0; block < grid.blocks(); ++block) {
    const BlockExtent extent = grid.extent(block);
    float amax = 0.0f;
    for_each_element(extent, cols, [&](std::int64_t i) { amax = max_of(amax, finite_magnitude(value(i))); });
    const BlockScale scale = block_scale(amax, format);
    scales[static_cast<std::size_t>(block)] = scale.scale;
    for_each_element(extent, cols, [&](std::int64_t i) {
      const float x = value(i);
      const std::uint8_t code = quantize_value(x, scale, format);
      codes[static_cast<std::size_t>(i)] = code;
      after(i, x, code, scale.scale);
    });
  }
}

/// Calls apply(i, dequantised value) for every element.
template <typename Apply>
void dequantize_blocks(const QuantizeSpec& spec, std::span<const std::uint8_t> codes,
                       std::span<const float> scales, std::size_t values, Apply&& apply) {
  const BlockGrid grid = checked_grid(spec, values, codes.size(), scales.size());
  for (std::int64_t block = 0; block < grid.blocks(); ++block) {
    const float scale = scales[static_cast<std::size_t>(block)];
    for_each_element(grid.extent(block), spec.shape.cols, [&](std::int64_t i) {
      apply(static_cast<std::size_t>(i), dequantize_value(codes[static_cast<std::size_t>(i)], scale, spec.format));
    });
  }
}

} // namespace

std::uint8_t quantize_value(float x, BlockScale scale, Format format) {
  return is_finite(x) ? encode(mul_rn(x, scale.inverse), format) : non_finite_code(x, format);
}

float dequantize_value(std::uint8_t code, float scale, Format format) {
  return mul_rn(decode(code, format), scale);
}

void quantize(const QuantizeSpec& spec, std::span<const float> input,
              std::span<std::uint8_t> codes, std::span<float> scales) {
  const BlockGrid grid = checked_grid(spec, input.size(), codes.size(), scales.size());
  quantize_blocks(
      grid, spec.format, [&](std::int64_t i) { return input[static_cast<std::size_t>(i)]; }, codes,
      scales, [](std::int64_t, float, std::uint8_t, float) {});
}

void quantize_with_feedback(const QuantizeSpec& spec, std::span<const float> input,
                            std::span<float> residual, std::span<std::uint8_t> codes,
                            std::span<float> scales) {
  const BlockGrid grid = checked_grid(spec, input.size(), codes.size(), scales.size());
  check_size("the residual buffer", residual.size(), spec.shape.elements());
  // residual[i] is read for the amax and the codes of its block before it is overwritten: the
  // block's elements are visited in full twice, the second pass writing behind its own reads.
  quantize_blocks(
      grid, spec.format,
      [&](std::int64_t i) {
        return with_residual(input[static_cast<std::size_t>(i)], residual[static_cast<std::size_t>(i)]);
      },
      codes, scales,
      [&](std::int64_t i, float y, std::uint8_t code, float scale) {
        residual[static_cast<std::size_t>(i)] =
            is_finite(y) ? sub_rn(y, dequantize_value(code, scale, spec.format)) : 0.0f;
      });
}

void dequantize(const QuantizeSpec& spec, std::span<const std::uint8_t> codes,
                std::span<const float> scales, std::span<float> output) {
  dequantize_blocks(spec, codes, scales, output.size(),
                    [&](std::size_t i, float value) { output[i] = value; });
}

void dequantize_accumulate(const QuantizeSpec& spec, std::span<const std::uint8_t> codes,
                           std::span<const float> scales, std::span<float> accumulator) {
  dequantize_blocks(spec, codes, scales, accumulator.size(),
                    [&](std::size_t i, float value) { accumulator[i] = add_rn(accumulator[i], value); });
}

} // namespace brix::fp8
