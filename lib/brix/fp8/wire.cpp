#include <brix/fp8/wire.hpp>

#include <brix/util/error.hpp>

#include <string>

namespace brix::fp8 {

WireLayout wire_layout(TensorShape shape, BlockShape block) {
  const BlockGrid grid(shape, block);
  return {4 * grid.blocks(), shape.elements()};
}

WireLayout flat_wire_layout(std::int64_t elements, BlockShape block) {
  if (elements < 0) {
    throw InputError("fp8: a chunk of " + std::to_string(elements) + " elements (expected >= 0)");
  }
  const std::int64_t per_block = block_height(block) * k_block_edge;
  return {4 * ceil_div(elements, per_block), elements};
}

double fp8_wire_ratio(std::int64_t elements, BlockShape block, SourceDtype source) {
  if (elements <= 0) {
    throw InputError("fp8: wire ratio of a chunk of " + std::to_string(elements) +
                     " elements (expected > 0)");
  }
  const WireLayout layout = flat_wire_layout(elements, block);
  return static_cast<double>(layout.total()) /
         (static_cast<double>(elements) * source_bytes(source));
}

std::string_view to_string(SourceDtype dtype) { return dtype == SourceDtype::fp32 ? "fp32" : "bf16"; }

std::optional<SourceDtype> parse_source_dtype(std::string_view text) {
  if (text == "fp32") {
    return SourceDtype::fp32;
  }
  if (text == "bf16") {
    return SourceDtype::bf16;
  }
  return std::nullopt;
}

} // namespace brix::fp8
