#include <brix/fp8/wire.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

using namespace brix::fp8;

TEST_CASE("fp8::wire_layout counts scales and codes") {
  CHECK(wire_layout({1, 1024}, BlockShape::row_1x128).total() == 1024 + 8 * 4);
  CHECK(wire_layout({1, 1000}, BlockShape::row_1x128).total() == 1000 + 8 * 4);
  CHECK(wire_layout({3, 1000}, BlockShape::row_1x128).scale_bytes == 3 * 8 * 4);
  CHECK(wire_layout({300, 200}, BlockShape::tile_128x128).total() == 60000 + 3 * 2 * 4);
  // DeepSeek-V3's q_a_proj [1536, 7168] has weight_scale_inv [12, 56].
  CHECK(wire_layout({1536, 7168}, BlockShape::tile_128x128).scale_bytes == 12 * 56 * 4);
  CHECK(wire_layout({0, 0}, BlockShape::row_1x128).total() == 0);
}

TEST_CASE("fp8::fp8_wire_ratio includes the scales") {
  CHECK(fp8_wire_ratio(1024, BlockShape::row_1x128, SourceDtype::fp32) == (1024.0 + 32) / 4096);
  CHECK(fp8_wire_ratio(1024, BlockShape::row_1x128, SourceDtype::bf16) == (1024.0 + 32) / 2048);
  CHECK(fp8_wire_ratio(1000, BlockShape::row_1x128, SourceDtype::fp32) == (1000.0 + 32) / 4000);
  CHECK(fp8_wire_ratio(1, BlockShape::row_1x128, SourceDtype::fp32) == 5.0 / 4);
  CHECK(fp8_wire_ratio(16384, BlockShape::tile_128x128, SourceDtype::fp32) == (16384.0 + 4) / 65536);
  CHECK(fp8_wire_ratio(16385, BlockShape::tile_128x128, SourceDtype::fp32) == (16385.0 + 8) / 65540);
  // Large chunks approach 1/4 + 1/128 of fp32.
  CHECK(fp8_wire_ratio(1 << 26, BlockShape::row_1x128, SourceDtype::fp32) == doctest::Approx(0.2578125));
  CHECK_THROWS_AS((void)fp8_wire_ratio(0, BlockShape::row_1x128, SourceDtype::fp32), brix::InputError);
}
