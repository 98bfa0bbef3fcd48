#include <brix/fp8/format.hpp>

#include <array>
#include <cmath>
#include <limits>

namespace brix::fp8 {

namespace {

struct Layout {
  int mantissa_bits;
  int bias;
};

constexpr Layout layout_of(Format format) {
  return format == Format::e4m3 ? Layout{3, 7} : Layout{2, 15};
}

/// v >> shift rounded to nearest, ties to even (1 <= shift < 32, v < 2^31): adding half an ulp
/// minus one, plus the kept part's lowest bit, carries exactly when RNE rounds up.
std::uint32_t shift_right_rne(std::uint32_t v, int shift) {
  const std::uint32_t odd = (v >> shift) & 1u;
  return (v + ((1u << (shift - 1)) - 1u) + odd) >> shift;
}

float decode_exact(std::uint8_t code, Format format) {
  const auto [mantissa_bits, bias] = layout_of(format);
  const int exponent_field = (code & 0x7f) >> mantissa_bits;
  const int mantissa = code & ((1 << mantissa_bits) - 1);
  const float sign = (code & 0x80) != 0 ? -1.0f : 1.0f;
  if (is_nan_code(code, format)) {
    return std::copysign(std::numeric_limits<float>::quiet_NaN(), sign);
  }
  if (format == Format::e5m2 && exponent_field == 31) {
    return sign * std::numeric_limits<float>::infinity();
  }
  if (exponent_field == 0) { // subnormal: mantissa · 2^(1 - bias - m)
    return sign * std::ldexp(static_cast<float>(mantissa), 1 - bias - mantissa_bits);
  }
  return sign * std::ldexp(static_cast<float>((1 << mantissa_bits) + mantissa),
                           exponent_field - bias - mantissa_bits);
}

using DecodeTable = std::array<float, 256>;

DecodeTable make_table(Format format) {
  DecodeTable table{};
  for (int code = 0; code < 256; ++code) {
    table[static_cast<std::size_t>(code)] = decode_exact(static_cast<std::uint8_t>(code), format);
  }
  return table;
}

} // namespace

bool is_nan_code(std::uint8_t code, Format format) {
  const int magnitude = code & 0x7f;
  return format == Format::e4m3 ? magnitude == 0x7f : magnitude > 0x7c;
}

std::uint8_t encode(float x, Format format) {
  if (!is_finite(x)) {
    return non_finite_code(x, format);
  }
  const std::uint32_t bits = float_bits(x);
  const auto sign = static_cast<std::uint8_t>((bits >> 24) & 0x80u);
  const std::uint32_t magnitude_bits = bits & 0x7fffffffu;
  if (bits_float(magnitude_bits) > format_max(format)) {
    return static_cast<std::uint8_t>(sign | max_code(format));
  }
  const auto [mantissa_bits, bias] = layout_of(format);
  const int fp32_exponent_field = static_cast<int>(magnitude_bits >> 23);
  std::uint32_t code = 0;
  if (fp32_exponent_field - 127 >= 1 - bias) {
    // Normal range: round the fp32 pattern to `mantissa_bits` bits (a carry moves into the
    // exponent, as it should), then rebias the exponent from 127 to `bias`.
    code = shift_right_rne(magnitude_bits, 23 - mantissa_bits) -
           (static_cast<std::uint32_t>(127 - bias) << mantissa_bits);
  } else {
    // Subnormal range (fp32 subnormals included): adding 2^(23 + 1 - bias - m) makes the fp32
    // sum's last mantissa bit worth one FP8 quantum, so the addition itself rounds to nearest
    // even (the default rounding mode); the mantissa bits of the sum count quanta. Rounding up to 2^m quanta gives the
    // smallest normal's code, which is the right answer.
    const float magic = bits_float(static_cast<std::uint32_t>(127 + 23 + 1 - bias - mantissa_bits) << 23);
    code = float_bits(bits_float(magnitude_bits) + magic) - float_bits(magic);
  }
  return static_cast<std::uint8_t>(sign | code);
}

float decode(std::uint8_t code, Format format) {
  static const DecodeTable e4m3 = make_table(Format::e4m3);
  static const DecodeTable e5m2 = make_table(Format::e5m2);
  return (format == Format::e4m3 ? e4m3 : e5m2)[code];
}

std::string_view to_string(Format format) { return format == Format::e4m3 ? "e4m3" : "e5m2"; }

std::optional<Format> parse_format(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (lower == "e4m3") {
    return Format::e4m3;
  }
  if (lower == "e5m2") {
    return Format::e5m2;
  }
  return std::nullopt;
}

} // namespace brix::fp8
