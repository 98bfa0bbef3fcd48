#pragma once
// Block-scaled FP8 quantisation on the CPU: the reference the CUDA kernels (kernels/) match bit
// for bit, and the implementation used where there is no GPU. Rules in scale_rule.hpp.
// Sizes: `input`, `codes`, `residual`, `output` hold shape.elements() values (row-major);
// `scales` holds BlockGrid(shape, block).blocks() values. A wrong size is an InputError.

#include <brix/fp8/blocks.hpp>
#include <brix/fp8/scale_rule.hpp>

#include <cstdint>
#include <span>

namespace brix::fp8 {

struct QuantizeSpec {
  TensorShape shape;
  BlockShape block = BlockShape::row_1x128;
  Format format = Format::e4m3;
};

/// The code of one element of a block.
[[nodiscard]] std::uint8_t quantize_value(float x, BlockScale scale, Format format);
/// The fp32 value of one code of a block: decode(code) · scale, one rounding.
[[nodiscard]] float dequantize_value(std::uint8_t code, float scale, Format format);

/// codes and per-block scales of `input`.
void quantize(const QuantizeSpec& spec, std::span<const float> input,
              std::span<std::uint8_t> codes, std::span<float> scales);

/// Error feedback (1-bit SGD / EF-SGD style): quantises y = input + residual, then stores
/// residual = y - dequantised(y), rounded once. Where y is NaN or ±Inf the residual becomes 0,
/// so a bad step does not poison every later one. The residual must start finite (zeros).
/// Dequantised NaNs have an unspecified sign and payload. Over steps, the sum of dequantised outputs
/// equals the sum of inputs minus the final residual.
void quantize_with_feedback(const QuantizeSpec& spec, std::span<const float> input,
                            std::span<float> residual, std::span<std::uint8_t> codes,
                            std::span<float> scales);

/// output = dequantised codes.
void dequantize(const QuantizeSpec& spec, std::span<const std::uint8_t> codes,
                std::span<const float> scales, std::span<float> output);

/// accumulator += dequantised codes, each sum rounded once (for reductions in fp32).
void dequantize_accumulate(const QuantizeSpec& spec, std::span<const std::uint8_t> codes,
                           std::span<const float> scales, std::span<float> accumulator);

} // namespace brix::fp8
