#pragma once
// The arithmetic shared by the CPU reference (lib/brix/fp8) and the CUDA kernels (kernels/), so
// both produce the same bits: one block scale rule, one policy for NaN/Inf, and every product or
// sum rounded on its own (round to nearest even, never fused into an FMA). Compiles as plain C++
// and under nvcc; on the device the _rn intrinsics pin the rounding whatever -fmad says.
//
// Policy (README "FP8 gradient compression"):
// - amax is the largest |x| over the FINITE elements of a block; NaN and ±Inf do not wipe out
//   the other values of their block.
// - scale = amax / fp8_max and inverse = fp8_max / amax, each one IEEE fp32 division. The code of
//   a finite x is fp8_rne_saturate(x * inverse); dequantised: decode(code) * scale.
// - A block with amax < fp8_max · 2^-126 (all zeros, or values so small that the scale would be
//   an fp32 subnormal) gets scale = inverse = 1: its finite values encode as signed zeros.
// - NaN encodes as sign|0x7f (NaN in both formats). +-Inf encodes as +-Inf in E5M2 (0x7c/0xfc)
//   and as NaN in E4M3 (sign|0x7f; e4m3fn has no Inf): an overflow stays visible to loss scalers
//   instead of being saturated into a plausible number.

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define BRIX_FP8_HD __host__ __device__ __forceinline__
#else
#define BRIX_FP8_HD inline
#endif

namespace brix::fp8 {

/// The two OCP FP8 formats: E4M3 is NVIDIA's/OCP's e4m3fn (max 448, no Inf, NaN = S.1111.111);
/// E5M2 is IEEE-like (max 57344, Inf and NaN).
enum class Format : std::uint8_t { e4m3, e5m2 };

/// Largest finite value of the format.
BRIX_FP8_HD constexpr float format_max(Format format) {
  return format == Format::e4m3 ? 448.0f : 57344.0f;
}

/// Code of the largest finite positive value (0x7e for E4M3, 0x7b for E5M2).
BRIX_FP8_HD constexpr std::uint8_t max_code(Format format) {
  return format == Format::e4m3 ? 0x7e : 0x7b;
}

/// 2^-126, the smallest normal fp32 (FLT_MIN), written so that device code needs no <cfloat>.
inline constexpr float k_smallest_normal = 1.17549435082228750797e-38f;

BRIX_FP8_HD std::uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
#endif
}

BRIX_FP8_HD float bits_float(std::uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
#endif
}

/// Finite test on the bits, immune to -ffast-math style assumptions.
BRIX_FP8_HD bool is_finite(float x) { return (float_bits(x) & 0x7f800000u) != 0x7f800000u; }

BRIX_FP8_HD float magnitude(float x) { return bits_float(float_bits(x) & 0x7fffffffu); }

/// |x| for finite x, 0 otherwise: the term of the block amax.
BRIX_FP8_HD float finite_magnitude(float x) { return is_finite(x) ? magnitude(x) : 0.0f; }

BRIX_FP8_HD float max_of(float a, float b) { return a < b ? b : a; }

// One IEEE operation each, rounded to nearest even; never contracted into an FMA.
BRIX_FP8_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
BRIX_FP8_HD float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
BRIX_FP8_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
BRIX_FP8_HD float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

/// A block's scale (dequantise: value = decode(code) · scale; DeepSeek's `weight_scale_inv`)
/// and the multiplier applied before encoding.
struct BlockScale {
  float scale = 1.0f;
  float inverse = 1.0f;
};

/// The block scale from the block's finite amax (see the policy above).
BRIX_FP8_HD BlockScale block_scale(float amax, Format format) {
  const float fp8_max = format_max(format);
  if (!(amax >= mul_rn(fp8_max, k_smallest_normal))) {
    return {1.0f, 1.0f};
  }
  return {div_rn(amax, fp8_max), div_rn(fp8_max, amax)};
}

/// The value error feedback quantises: x + residual, one rounding. A non-finite x passes as it
/// is, so that its sign reaches the code the same way on the CPU and the GPU (the GPU's
/// arithmetic returns a canonical NaN). The residual is finite as quantize_with_feedback leaves it.
BRIX_FP8_HD float with_residual(float x, float residual) {
  return is_finite(x) ? add_rn(x, residual) : x;
}

/// The code of a NaN or ±Inf input (only called for non-finite x).
BRIX_FP8_HD std::uint8_t non_finite_code(float x, Format format) {
  const auto sign = static_cast<std::uint8_t>((float_bits(x) >> 24) & 0x80u);
  const bool infinite = (float_bits(x) & 0x7fffffffu) == 0x7f800000u;
  if (infinite && format == Format::e5m2) {
    return static_cast<std::uint8_t>(sign | 0x7cu);
  }
  return static_cast<std::uint8_t>(sign | 0x7fu);
}

} // namespace brix::fp8
