#pragma once
// Wire format of a compressed chunk and its exact size. A chunk is its fp32 scales (one per
// block, little-endian, row-major over the block grid) followed by its FP8 codes (one byte per
// element, row-major). No header: both ends know the shape, block shape and format. Scales go
// first so that they stay 4-byte aligned in a buffer of back-to-back chunks.

#include <brix/fp8/blocks.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace brix::fp8 {

/// What a compressed chunk replaces on the wire.
enum class SourceDtype : std::uint8_t { fp32, bf16 };

[[nodiscard]] constexpr int source_bytes(SourceDtype dtype) { return dtype == SourceDtype::fp32 ? 4 : 2; }

struct WireLayout {
  std::int64_t scale_bytes = 0; ///< 4 · blocks
  std::int64_t code_bytes = 0;  ///< 1 · elements
  [[nodiscard]] constexpr std::int64_t total() const { return scale_bytes + code_bytes; }
};

/// The layout of a [rows, cols] tensor's chunk.
[[nodiscard]] WireLayout wire_layout(TensorShape shape, BlockShape block);

/// The layout of a flat chunk of `elements` values: with 1 × 128 blocks, ceil(n / 128) scales;
/// with 128 × 128, the chunk seen as rows of 128 columns, so ceil(n / 16384) scales.
[[nodiscard]] WireLayout flat_wire_layout(std::int64_t elements, BlockShape block);

/// Wire bytes of a compressed flat chunk over the bytes of the same chunk in `source`, scales
/// included (fp32, 1 × 128: 1/4 + 1/128 asymptotically). InputError when elements <= 0.
[[nodiscard]] double fp8_wire_ratio(std::int64_t elements, BlockShape block, SourceDtype source);

[[nodiscard]] std::string_view to_string(SourceDtype dtype);
[[nodiscard]] std::optional<SourceDtype> parse_source_dtype(std::string_view text);

} // namespace brix::fp8
