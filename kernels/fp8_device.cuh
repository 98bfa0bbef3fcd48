#pragma once
// Device-side pieces shared by the FP8 kernels: the hardware conversions wrapped in the policy
// of scale_rule.hpp, warp reductions and the launch geometry.

#include <brix/fp8/scale_rule.hpp>

#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace brix::kernels::detail {

using fp8::Format;

constexpr int k_warp = 32;

template <Format F>
__host__ __device__ constexpr __nv_fp8_interpretation_t interpretation() {
  return F == Format::e4m3 ? __NV_E4M3 : __NV_E5M2;
}

/// Codes of a and b (already scaled); `raw_a`/`raw_b` are the values before scaling, whose class
/// and sign pick the NaN/Inf codes. cvt.rn.satfinite rounds to nearest even and saturates.
template <Format F>
__device__ __forceinline__ std::uint32_t encode_pair(float a, float b, float raw_a, float raw_b) {
  const __nv_fp8x2_storage_t both =
      __nv_cvt_float2_to_fp8x2(make_float2(a, b), __NV_SATFINITE, interpretation<F>());
  const std::uint32_t lo = fp8::is_finite(raw_a) ? (both & 0xffu) : fp8::non_finite_code(raw_a, F);
  const std::uint32_t hi = fp8::is_finite(raw_b) ? (both >> 8) : fp8::non_finite_code(raw_b, F);
  return lo | (hi << 8);
}

/// Four codes packed little-endian into a word.
template <Format F>
__device__ __forceinline__ std::uint32_t encode_scaled4(const float (&y)[4], float inverse) {
  const std::uint32_t lo = encode_pair<F>(fp8::mul_rn(y[0], inverse), fp8::mul_rn(y[1], inverse), y[0], y[1]);
  const std::uint32_t hi = encode_pair<F>(fp8::mul_rn(y[2], inverse), fp8::mul_rn(y[3], inverse), y[2], y[3]);
  return lo | (hi << 16);
}

/// The exact value of a code (through fp16, which holds every FP8 value).
template <Format F>
__device__ __forceinline__ float decode(std::uint32_t code) {
  const __half_raw half = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(code), interpretation<F>());
  return __half2float(__half(half));
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = k_warp / 2; offset > 0; offset /= 2) {
    v = fp8::max_of(v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

inline bool aligned(const void* p, unsigned bytes) {
  return (reinterpret_cast<std::uintptr_t>(p) % bytes) == 0;
}

/// Blocks for a grid-stride launch: enough to fill every multiprocessor `per_sm` times.
std::int64_t grid_size(std::int64_t work_items, int per_sm);

} // namespace brix::kernels::detail
