// Runs without a GPU: fp8::encode against the CUDA toolkit's own host implementation of
// __nv_cvt_float_to_fp8 (cuda_fp8.hpp, which emulates cvt.rn.satfinite), on a stride through
// all finite fp32 patterns and densely where FP8 values live. NaN/Inf are excluded: brix encodes
// them by its own policy (Inf -> NaN in E4M3) where satfinite would saturate.

#include <brix/fp8/format.hpp>

#include <cuda_fp8.h>

#include <cstdint>
#include <cstdio>

using brix::fp8::Format;

namespace {

long long mismatches(Format format) {
  const __nv_fp8_interpretation_t interpretation = format == Format::e4m3 ? __NV_E4M3 : __NV_E5M2;
  long long bad = 0;
  auto check = [&](std::uint32_t bits) {
    const float x = brix::fp8::bits_float(bits);
    const auto cuda = static_cast<std::uint8_t>(__nv_cvt_float_to_fp8(x, __NV_SATFINITE, interpretation));
    const std::uint8_t brix = brix::fp8::encode(x, format);
    if (cuda != brix && bad++ < 5) {
      std::printf("  %s 0x%08x: cuda 0x%02x brix 0x%02x\n", format == Format::e4m3 ? "e4m3" : "e5m2", bits, cuda, brix);
    }
  };
  for (std::uint64_t bits = 0; bits < 0x7f800000u; bits += 257) {
    check(static_cast<std::uint32_t>(bits));
    check(static_cast<std::uint32_t>(bits) | 0x80000000u);
  }
  for (std::uint32_t bits = 0x33800000u; bits < 0x48000000u; bits += 13) { // [2^-24, 2^17)
    check(bits);
  }
  return bad;
}

} // namespace

int main() {
  const long long e4m3 = mismatches(Format::e4m3);
  const long long e5m2 = mismatches(Format::e5m2);
  std::printf("fp8 encode vs CUDA host __nv_cvt_float_to_fp8: e4m3 %lld, e5m2 %lld mismatches\n", e4m3, e5m2);
  return e4m3 == 0 && e5m2 == 0 ? 0 : 1;
}
