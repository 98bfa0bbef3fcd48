#include <brix/fp8/format.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ios>
#include <limits>
#include <vector>

using namespace brix::fp8;

namespace {

constexpr Format k_formats[] = {Format::e4m3, Format::e5m2};

/// Independent oracle: the nearest finite code by search over the decoded values (in double),
/// ties to the even code, beyond max saturating. Knows nothing of the bit tricks in encode().
std::uint8_t nearest_code(float x, Format format) {
  const std::uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  const double a = std::fabs(static_cast<double>(x));
  const int top = max_code(format);
  if (a >= decode(static_cast<std::uint8_t>(top), format)) {
    return static_cast<std::uint8_t>(sign | top);
  }
  int lo = 0; // largest code with value <= a
  int hi = top;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    (decode(static_cast<std::uint8_t>(mid), format) <= a ? lo : hi) = mid;
  }
  const double below = a - decode(static_cast<std::uint8_t>(lo), format);
  const double above = decode(static_cast<std::uint8_t>(hi), format) - a;
  const int code = below < above ? lo : above < below ? hi : (lo % 2 == 0 ? lo : hi);
  return static_cast<std::uint8_t>(sign | code);
}

float from_bits(std::uint32_t bits) { return bits_float(bits); }

} // namespace

TEST_CASE("fp8::decode known values") {
  CHECK(decode(0x7e, Format::e4m3) == 448.0f);
  CHECK(decode(0xfe, Format::e4m3) == -448.0f);
  CHECK(decode(0x08, Format::e4m3) == std::ldexp(1.0f, -6)); // smallest normal
  CHECK(decode(0x01, Format::e4m3) == std::ldexp(1.0f, -9)); // smallest subnormal
  CHECK(decode(0x07, Format::e4m3) == 7 * std::ldexp(1.0f, -9));
  CHECK(decode(0x38, Format::e4m3) == 1.0f);
  CHECK(std::isnan(decode(0x7f, Format::e4m3)));
  CHECK(std::isnan(decode(0xff, Format::e4m3)));
  CHECK(std::signbit(decode(0x80, Format::e4m3)));
  CHECK(decode(0x80, Format::e4m3) == 0.0f);

  CHECK(decode(0x7b, Format::e5m2) == 57344.0f);
  CHECK(decode(0x7c, Format::e5m2) == std::numeric_limits<float>::infinity());
  CHECK(decode(0xfc, Format::e5m2) == -std::numeric_limits<float>::infinity());
  for (const std::uint8_t nan : {0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff}) {
    CHECK(std::isnan(decode(nan, Format::e5m2)));
  }
  CHECK(decode(0x04, Format::e5m2) == std::ldexp(1.0f, -14));
  CHECK(decode(0x01, Format::e5m2) == std::ldexp(1.0f, -16));
  CHECK(decode(0x3c, Format::e5m2) == 1.0f);
}

TEST_CASE("fp8::encode round trips every code") {
  for (const Format format : k_formats) {
    for (int code = 0; code < 256; ++code) {
      const auto c = static_cast<std::uint8_t>(code);
      if (is_nan_code(c, format)) {
        CHECK(encode(decode(c, format), format) == (c & 0x80 ? 0xff : 0x7f));
        continue;
      }
      if (format == Format::e4m3 && (c & 0x7f) == 0x7f) {
        continue;
      }
      CHECK_MESSAGE(encode(decode(c, format), format) == c, "code " << code << " " << to_string(format));
    }
  }
}

TEST_CASE("fp8::encode ties go to the even code, subnormals included") {
  for (const Format format : k_formats) {
    for (int code = 0; code < max_code(format); ++code) {
      const float lo = decode(static_cast<std::uint8_t>(code), format);
      const float hi = decode(static_cast<std::uint8_t>(code + 1), format);
      const float mid = (lo + hi) / 2; // exact: one more mantissa bit than the format has
      REQUIRE(static_cast<double>(mid) == (static_cast<double>(lo) + hi) / 2);
      const int even = code % 2 == 0 ? code : code + 1;
      CHECK(encode(mid, format) == even);
      CHECK(encode(-mid, format) == (0x80 | even));
      CHECK(encode(std::nextafter(mid, 0.0f), format) == code);
      CHECK(encode(std::nextafter(mid, 1e30f), format) == code + 1);
    }
  }
  // Spot values: half the smallest E4M3 subnormal is a tie with zero; 1.5 quanta ties up to 2.
  CHECK(encode(std::ldexp(1.0f, -10), Format::e4m3) == 0x00);
  CHECK(encode(3 * std::ldexp(1.0f, -10), Format::e4m3) == 0x02);
  CHECK(encode(1.0625f, Format::e4m3) == 0x38);  // 1 + 1/16 ties to 1.0 (mantissa 000)
  CHECK(encode(1.1875f, Format::e4m3) == 0x3a);  // 1 + 3/16 ties to 1.25 (mantissa 010)
}

TEST_CASE("fp8::encode saturates finite values beyond max") {
  CHECK(encode(449.0f, Format::e4m3) == 0x7e);
  CHECK(encode(464.0f, Format::e4m3) == 0x7e);
  CHECK(encode(1e30f, Format::e4m3) == 0x7e);
  CHECK(encode(-std::numeric_limits<float>::max(), Format::e4m3) == 0xfe);
  CHECK(encode(57345.0f, Format::e5m2) == 0x7b);
  CHECK(encode(61440.0f, Format::e5m2) == 0x7b); // would round to Inf without saturation
  CHECK(encode(-1e38f, Format::e5m2) == 0xfb);
}

TEST_CASE("fp8::encode NaN and Inf policy") {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(encode(nan, Format::e4m3) == 0x7f);
  CHECK(encode(-nan, Format::e4m3) == 0xff);
  CHECK(encode(inf, Format::e4m3) == 0x7f);  // e4m3fn has no Inf: NaN, not a saturated 448
  CHECK(encode(-inf, Format::e4m3) == 0xff);
  CHECK(encode(nan, Format::e5m2) == 0x7f);
  CHECK(encode(inf, Format::e5m2) == 0x7c);
  CHECK(encode(-inf, Format::e5m2) == 0xfc);
  CHECK(encode(from_bits(0x7f800001u), Format::e5m2) == 0x7f); // signalling NaN too
}

TEST_CASE("fp8::encode signed zeros and fp32 subnormals") {
  for (const Format format : k_formats) {
    CHECK(encode(0.0f, format) == 0x00);
    CHECK(encode(-0.0f, format) == 0x80);
    CHECK(encode(from_bits(0x00000001u), format) == 0x00);
    CHECK(encode(from_bits(0x807fffffu), format) == 0x80);
    CHECK(encode(std::numeric_limits<float>::min(), format) == 0x00);
  }
}

TEST_CASE("fp8::encode matches the nearest-value oracle") {
  for (const Format format : k_formats) {
    int mismatches = 0;
    auto check = [&](std::uint32_t bits) {
      const float x = from_bits(bits);
      if (encode(x, format) != nearest_code(x, format) && ++mismatches <= 5) {
        FAIL_CHECK("bits 0x" << std::hex << bits << " " << to_string(format));
      }
    };
    // Every finite fp32 pattern at a prime stride, both signs.
    for (std::uint64_t bits = 0; bits < 0x7f800000u; bits += 7919) {
      check(static_cast<std::uint32_t>(bits));
      check(static_cast<std::uint32_t>(bits) | 0x80000000u);
    }
    // Densely where the FP8 codes live: [2^-20, 2^17).
    for (std::uint32_t bits = 0x35800000u; bits < 0x48000000u; bits += 61) {
      check(bits);
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("fp8::parse_format") {
  CHECK(parse_format("E4M3") == Format::e4m3);
  CHECK(parse_format("e5m2") == Format::e5m2);
  CHECK_FALSE(parse_format("e3m4").has_value());
}
