#pragma once
// FP8 codes: encoding fp32 with round-to-nearest-even and saturation, and exact decoding.
// The bit layout follows the OCP 8-bit floating point specification (OFP8, 2023): E4M3 has
// exponent bias 7 and three mantissa bits, E5M2 bias 15 and two.

#include <brix/fp8/scale_rule.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace brix::fp8 {

/// Encodes x (already scaled) as FP8: round to nearest, ties to even, subnormals included;
/// finite values beyond the format's max saturate to ±max; NaN/Inf follow non_finite_code.
/// Bit-identical to the hardware's cvt.rn.satfinite for every finite x.
[[nodiscard]] std::uint8_t encode(float x, Format format);

/// The exact value of a code (every FP8 value is an fp32 value). NaN codes give a quiet NaN
/// with the code's sign.
[[nodiscard]] float decode(std::uint8_t code, Format format);

/// True for the NaN codes (E4M3: 0x7f/0xff; E5M2: exponent all ones and mantissa not zero).
[[nodiscard]] bool is_nan_code(std::uint8_t code, Format format);

[[nodiscard]] std::string_view to_string(Format format);
/// "e4m3" or "e5m2" (case-insensitive); nullopt otherwise.
[[nodiscard]] std::optional<Format> parse_format(std::string_view text);

} // namespace brix::fp8
