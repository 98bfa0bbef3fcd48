#include <brix/fp8/format.hpp>
#include <brix/fp8/quantize.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

using namespace brix::fp8;

namespace {

struct Quantised {
  std::vector<std::uint8_t> codes;
  std::vector<float> scales;
  std::vector<float> values; ///< dequantised
};

Quantised round_trip(const QuantizeSpec& spec, const std::vector<float>& input) {
  Quantised q;
  q.codes.resize(input.size());
  q.scales.resize(static_cast<std::size_t>(BlockGrid(spec.shape, spec.block).blocks()));
  q.values.resize(input.size());
  quantize(spec, input, q.codes, q.scales);
  dequantize(spec, q.codes, q.scales, q.values);
  return q;
}

/// Values spread over many binades, with every sign, so that blocks hold subnormal-range codes.
std::vector<float> spread_values(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> exponent(-12.0f, 4.0f);
  std::vector<float> out(n);
  for (auto& x : out) {
    x = normal(rng) * std::exp2(exponent(rng));
  }
  return out;
}

struct FormatBounds {
  Format format;
  float relative;     ///< half an ulp of the format's mantissa: 2^-(m+1)
  float min_normal;   ///< smallest normal of the format
  float half_quantum; ///< half the subnormal spacing
};

constexpr FormatBounds k_bounds[] = {
    {Format::e4m3, 0x1p-4f, 0x1p-6f, 0x1p-10f},
    {Format::e5m2, 0x1p-3f, 0x1p-14f, 0x1p-17f},
};

/// Every element's error against fp32, by the block's scale: relative in the normal range,
/// absolute (half a subnormal step) below it. A small slack covers the two fp32 roundings.
void check_error_bounds(const QuantizeSpec& spec, const std::vector<float>& input, const FormatBounds& bounds) {
  const Quantised q = round_trip(spec, input);
  const BlockGrid grid(spec.shape, spec.block);
  const float slack = 1.0f + 0x1p-20f;
  int failures = 0;
  for (std::int64_t block = 0; block < grid.blocks(); ++block) {
    const float scale = q.scales[static_cast<std::size_t>(block)];
    const BlockExtent e = grid.extent(block);
    for (std::int64_t row = e.row_begin; row < e.row_end; ++row) {
      for (std::int64_t col = e.col_begin; col < e.col_end; ++col) {
        const auto i = static_cast<std::size_t>(row * spec.shape.cols + col);
        const float x = input[i];
        const float error = std::fabs(q.values[i] - x);
        const bool normal = std::fabs(x) / scale >= bounds.min_normal;
        const float bound = normal ? bounds.relative * std::fabs(x) * slack : bounds.half_quantum * scale * slack;
        if (error > bound && ++failures <= 3) {
          FAIL_CHECK("element " << i << ": " << x << " -> " << q.values[i] << " error " << error << " > " << bound);
        }
      }
    }
  }
  CHECK(failures == 0);
}

} // namespace

TEST_CASE("fp8::quantize scale is amax / fp8_max of each block") {
  for (const auto& b : k_bounds) {
    const QuantizeSpec spec{{1, 300}, BlockShape::row_1x128, b.format};
    auto input = spread_values(300, 1);
    input[5] = -1792.0f; // 4 · 448 = 7 · 2^8: both scales are exact
    const Quantised q = round_trip(spec, input);
    REQUIRE(q.scales.size() == 3);
    CHECK(q.scales[0] == 1792.0f / format_max(b.format));
    CHECK(q.codes[5] == (0x80 | max_code(b.format))); // the amax element lands on ±max
    CHECK(q.values[5] == -1792.0f);
    float amax_last = 0;
    for (std::size_t i = 256; i < 300; ++i) {
      amax_last = std::max(amax_last, std::fabs(input[i]));
    }
    CHECK(q.scales[2] == amax_last / format_max(b.format));
  }
}

TEST_CASE("fp8::quantize zero and tiny blocks") {
  std::vector<float> input(256, 0.0f);
  input[3] = -0.0f;
  input[130] = 1e-37f; // below 448 · 2^-126: the block is flushed
  const QuantizeSpec spec{{1, 256}, BlockShape::row_1x128, Format::e4m3};
  const Quantised q = round_trip(spec, input);
  CHECK(q.scales[0] == 1.0f);
  CHECK(q.scales[1] == 1.0f);
  CHECK(q.codes[0] == 0x00);
  CHECK(q.codes[3] == 0x80);
  CHECK(q.codes[130] == 0x00);
  CHECK(std::signbit(q.values[3]));
  CHECK(q.values[130] == 0.0f);
  input[130] = 1e-35f; // above the threshold: a real scale, exact at amax
  const Quantised r = round_trip(spec, input);
  CHECK(r.scales[1] == 1e-35f / 448.0f);
  CHECK(r.values[130] == doctest::Approx(1e-35f).epsilon(1e-6));
}

TEST_CASE("fp8::quantize NaN and Inf do not wipe out their block") {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> input{1.0f, 2.0f, std::numeric_limits<float>::quiet_NaN(), inf, -inf, -0.5f};
  for (const auto& b : k_bounds) {
    const QuantizeSpec spec{{1, 6}, BlockShape::row_1x128, b.format};
    const Quantised q = round_trip(spec, input);
    CHECK(q.scales[0] == 2.0f / format_max(b.format));
    CHECK(q.values[0] == 1.0f);
    CHECK(q.values[1] == 2.0f);
    CHECK(q.values[5] == -0.5f);
    CHECK(std::isnan(q.values[2]));
    if (b.format == Format::e5m2) {
      CHECK(q.values[3] == inf);
      CHECK(q.values[4] == -inf);
    } else {
      CHECK(std::isnan(q.values[3]));
      CHECK(std::isnan(q.values[4]));
    }
  }
}

TEST_CASE("fp8::quantize error bounds against fp32") {
  for (const auto& b : k_bounds) {
    for (const BlockShape block : {BlockShape::row_1x128, BlockShape::tile_128x128}) {
      const TensorShape shape{300, 200}; // partial blocks in both directions
      CAPTURE(to_string(b.format));
      CAPTURE(to_string(block));
      check_error_bounds({shape, block, b.format}, spread_values(static_cast<std::size_t>(shape.elements()), 7), b);
    }
  }
}

TEST_CASE("fp8::quantize 128x128 tiles on a non-multiple shape") {
  const TensorShape shape{130, 260};
  const QuantizeSpec spec{shape, BlockShape::tile_128x128, Format::e4m3};
  const auto input = spread_values(static_cast<std::size_t>(shape.elements()), 3);
  const Quantised q = round_trip(spec, input);
  REQUIRE(q.scales.size() == 2 * 3);
  // Each scale from a brute-force amax over its own rectangle.
  const std::int64_t row_edges[] = {0, 128, 130};
  const std::int64_t col_edges[] = {0, 128, 256, 260};
  for (int br = 0; br < 2; ++br) {
    for (int bc = 0; bc < 3; ++bc) {
      float amax = 0;
      for (auto r = row_edges[br]; r < row_edges[br + 1]; ++r) {
        for (auto c = col_edges[bc]; c < col_edges[bc + 1]; ++c) {
          amax = std::max(amax, std::fabs(input[static_cast<std::size_t>(r * shape.cols + c)]));
        }
      }
      CHECK(q.scales[static_cast<std::size_t>(br * 3 + bc)] == amax / 448.0f);
    }
  }
}

TEST_CASE("fp8::dequantize_accumulate adds with one rounding per element") {
  const QuantizeSpec spec{{4, 130}, BlockShape::row_1x128, Format::e5m2};
  const auto input = spread_values(520, 11);
  const Quantised q = round_trip(spec, input);
  std::vector<float> accumulator = spread_values(520, 12);
  const std::vector<float> before = accumulator;
  dequantize_accumulate(spec, q.codes, q.scales, accumulator);
  for (std::size_t i = 0; i < accumulator.size(); ++i) {
    CHECK(accumulator[i] == before[i] + q.values[i]);
  }
}

TEST_CASE("fp8::quantize_with_feedback tracks the running sum") {
  // A constant gradient that E4M3 cannot represent: without feedback the same rounding error
  // adds up every step; with feedback the sum of outputs stays within one residual of the sum
  // of inputs.
  const QuantizeSpec spec{{1, 256}, BlockShape::row_1x128, Format::e4m3};
  std::vector<float> input(256);
  for (std::size_t i = 0; i < input.size(); ++i) {
    input[i] = 1.0f + 0.03f * static_cast<float>(i % 17) - (i % 2 ? 2.2f : 0.0f);
  }
  const int steps = 200;
  std::vector<float> residual(256, 0.0f);
  std::vector<std::uint8_t> codes(256);
  std::vector<float> scales(2);
  std::vector<double> with_feedback(256, 0.0);
  std::vector<double> without(256, 0.0);
  std::vector<float> values(256);
  for (int step = 0; step < steps; ++step) {
    quantize_with_feedback(spec, input, residual, codes, scales);
    dequantize(spec, codes, scales, values);
    for (std::size_t i = 0; i < values.size(); ++i) {
      with_feedback[i] += values[i];
    }
    quantize(spec, input, codes, scales);
    dequantize(spec, codes, scales, values);
    for (std::size_t i = 0; i < values.size(); ++i) {
      without[i] += values[i];
    }
  }
  double worst_feedback = 0;
  double worst_without = 0;
  for (std::size_t i = 0; i < input.size(); ++i) {
    const double exact = static_cast<double>(input[i]) * steps;
    worst_feedback = std::max(worst_feedback, std::fabs(with_feedback[i] - exact));
    worst_without = std::max(worst_without, std::fabs(without[i] - exact));
    // sum(outputs) = sum(inputs) - final residual, up to fp32 rounding of each update.
    CHECK(std::fabs(with_feedback[i] - (exact - residual[i])) < 1e-3);
  }
  MESSAGE("largest |sum error| over " << steps << " steps: " << worst_feedback << " with error feedback, "
                                      << worst_without << " without");
  CHECK(worst_feedback < 0.1);  // bounded by one step's quantisation error (≤ 2^-4 · 2.2)
  CHECK(worst_without > 1.0);   // grows linearly without feedback
}

TEST_CASE("fp8::quantize_with_feedback drops non-finite residuals") {
  const QuantizeSpec spec{{1, 3}, BlockShape::row_1x128, Format::e4m3};
  std::vector<float> input{1.3f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()};
  std::vector<float> residual(3, 0.0f);
  std::vector<std::uint8_t> codes(3);
  std::vector<float> scales(1);
  quantize_with_feedback(spec, input, residual, codes, scales);
  CHECK(residual[0] == 0.0f); // 1.3 is the amax: it lands exactly on 448 · scale
  CHECK(residual[1] == 0.0f);
  CHECK(residual[2] == 0.0f);
  CHECK(codes[1] == 0x7f);
}

TEST_CASE("fp8::quantize rejects buffers of the wrong size") {
  const QuantizeSpec spec{{2, 200}, BlockShape::row_1x128, Format::e4m3};
  std::vector<float> input(400);
  std::vector<std::uint8_t> codes(400);
  std::vector<float> scales(4);
  CHECK_NOTHROW(quantize(spec, input, codes, scales));
  std::vector<float> too_few_scales(3);
  CHECK_THROWS_AS(quantize(spec, input, codes, too_few_scales), brix::InputError);
  std::vector<std::uint8_t> short_codes(399);
  CHECK_THROWS_AS(quantize(spec, input, short_codes, scales), brix::InputError);
  CHECK_THROWS_AS(BlockGrid({-1, 4}, BlockShape::row_1x128), brix::InputError);
}
