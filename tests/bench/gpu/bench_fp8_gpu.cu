// FP8 kernel throughput on one GPU, as a fraction of peak memory bandwidth and of a
// device-to-device copy measured in the same run. Bytes counted: each input read once, each
// output written once (codes 1 B, scales 4 B per block, residuals read and written).
// Options: --elements N (fp32 values, default 2^29 = 2 GiB), --repeat N (timed runs, median),
// --peak-gb-per-s X (default: memory clock × bus width from the device), --require-fraction F
// (exit 1 when quantise 1x128 e4m3 reaches less than F of peak).

#include "gpu_common.hpp"

#include <brix/kernels/fp8.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

using namespace brix;
using fp8::BlockShape;
using fp8::Format;

namespace {

struct Options {
  std::int64_t elements = std::int64_t{1} << 29;
  int repeat = 20;
  double peak_gb_per_s = 0;
  double require_fraction = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "brix-fp8-gpu-bench: %s needs a value\n", arg.c_str());
      std::exit(2);
    }
    const char* value = argv[++i];
    if (arg == "--elements") {
      o.elements = std::atoll(value);
    } else if (arg == "--repeat") {
      o.repeat = std::atoi(value);
    } else if (arg == "--peak-gb-per-s") {
      o.peak_gb_per_s = std::atof(value);
    } else if (arg == "--require-fraction") {
      o.require_fraction = std::atof(value);
    } else {
      std::fprintf(stderr, "brix-fp8-gpu-bench: unknown option %s\n", arg.c_str());
      std::exit(2);
    }
  }
  // Whole 128 × 128 tiles over rows of 8192: round down to a multiple of 2^20.
  o.elements = std::max<std::int64_t>(o.elements / (1 << 20), 1) * (1 << 20);
  o.repeat = std::max(o.repeat, 3);
  return o;
}

/// Peak DRAM bandwidth from the device: memory clock (kHz) × 2 (double data rate) × bus bytes.
double device_peak_gb_per_s() {
  int clock_khz = 0;
  int bus_bits = 0;
  BRIX_CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0));
  BRIX_CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0));
  return 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
}

/// Random-looking, finite, sign-mixed values over many binades (never zeros: they can time
/// faster than real data).
__global__ void fill_values(float* out, std::int64_t count, std::uint32_t seed) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    std::uint32_t h = static_cast<std::uint32_t>(i) * 2654435761u ^ seed;
    h ^= h >> 15, h *= 2246822519u, h ^= h >> 13;
    const float unit = static_cast<float>(h & 0xffffffu) / 16777216.0f - 0.5f;
    out[i] = unit * exp2f(static_cast<float>((h >> 24) % 24) - 12.0f);
  }
}

/// Median milliseconds of `repeat` runs of `work`, after two warm-up runs.
double median_ms(int repeat, const std::function<void()>& work) {
  cudaEvent_t start;
  cudaEvent_t stop;
  BRIX_CUDA_CHECK(cudaEventCreate(&start));
  BRIX_CUDA_CHECK(cudaEventCreate(&stop));
  work();
  work();
  std::vector<float> times;
  for (int i = 0; i < repeat; ++i) {
    BRIX_CUDA_CHECK(cudaEventRecord(start));
    work();
    BRIX_CUDA_CHECK(cudaEventRecord(stop));
    BRIX_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    BRIX_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  BRIX_CUDA_CHECK(cudaEventDestroy(start));
  BRIX_CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Row {
  std::string name;
  double ms;
  double bytes;
};

} // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  gpu_checks::require_fp8_gpu("brix-fp8-gpu-bench");
  const double device_peak = device_peak_gb_per_s();
  const double peak = o.peak_gb_per_s > 0 ? o.peak_gb_per_s : device_peak;
  const std::int64_t n = o.elements;
  const auto un = static_cast<std::size_t>(n);
  const double blocks_1x128 = static_cast<double>(fp8::ceil_div(n, 128));
  const fp8::TensorShape flat{1, n};
  const fp8::TensorShape matrix{n / 8192, 8192};

  float* input = nullptr;
  float* residual = nullptr;
  float* output = nullptr;
  std::uint8_t* codes = nullptr;
  float* scales = nullptr;
  BRIX_CUDA_CHECK(cudaMalloc(&input, un * sizeof(float)));
  BRIX_CUDA_CHECK(cudaMalloc(&residual, un * sizeof(float)));
  BRIX_CUDA_CHECK(cudaMalloc(&output, un * sizeof(float)));
  BRIX_CUDA_CHECK(cudaMalloc(&codes, un));
  BRIX_CUDA_CHECK(cudaMalloc(&scales, static_cast<std::size_t>(blocks_1x128) * sizeof(float)));
  fill_values<<<4096, 256>>>(input, n, 1);
  fill_values<<<4096, 256>>>(output, n, 2);
  BRIX_CUDA_CHECK(cudaGetLastError());
  BRIX_CUDA_CHECK(cudaMemset(residual, 0, un * sizeof(float)));
  BRIX_CUDA_CHECK(cudaDeviceSynchronize());

  auto quantize = [&](fp8::TensorShape shape, BlockShape block, Format format, bool feedback) {
    return [=] {
      BRIX_CUDA_CHECK(kernels::quantize_fp8({{shape, block, format}, input, feedback ? residual : nullptr, codes, scales}));
    };
  };
  auto dequantize = [&](bool accumulate) {
    return [=] {
      BRIX_CUDA_CHECK(kernels::dequantize_fp8({{flat, BlockShape::row_1x128, Format::e4m3}, codes, scales, output, accumulate}));
    };
  };
  const double fp32 = 4.0 * n;
  const double fp8_bytes = 1.0 * n + 4.0 * blocks_1x128;
  const double fp8_tiles = 1.0 * n + 4.0 * static_cast<double>(n / 16384);
  std::vector<Row> rows;
  rows.push_back({"copy fp32 (cudaMemcpy D2D)", median_ms(o.repeat, [&] {
                    BRIX_CUDA_CHECK(cudaMemcpyAsync(output, input, un * sizeof(float), cudaMemcpyDeviceToDevice));
                  }), 2 * fp32});
  rows.push_back({"quantise 1x128 e4m3", median_ms(o.repeat, quantize(flat, BlockShape::row_1x128, Format::e4m3, false)), fp32 + fp8_bytes});
  rows.push_back({"quantise 1x128 e5m2", median_ms(o.repeat, quantize(flat, BlockShape::row_1x128, Format::e5m2, false)), fp32 + fp8_bytes});
  rows.push_back({"quantise 1x128 e4m3 + feedback", median_ms(o.repeat, quantize(flat, BlockShape::row_1x128, Format::e4m3, true)), 3 * fp32 + fp8_bytes});
  rows.push_back({"quantise 128x128 e4m3", median_ms(o.repeat, quantize(matrix, BlockShape::tile_128x128, Format::e4m3, false)), fp32 + fp8_tiles});
  rows.push_back({"quantise 128x128 e4m3 + feedback", median_ms(o.repeat, quantize(matrix, BlockShape::tile_128x128, Format::e4m3, true)), 3 * fp32 + fp8_tiles});
  BRIX_CUDA_CHECK(kernels::quantize_fp8({{flat, BlockShape::row_1x128, Format::e4m3}, input, nullptr, codes, scales}));
  rows.push_back({"dequantise 1x128 e4m3", median_ms(o.repeat, dequantize(false)), fp8_bytes + fp32});
  rows.push_back({"dequantise-accumulate 1x128 e4m3", median_ms(o.repeat, dequantize(true)), fp8_bytes + 2 * fp32});
  BRIX_CUDA_CHECK(cudaDeviceSynchronize());

  const double copy_gb_per_s = rows[0].bytes / (rows[0].ms * 1e-3) / 1e9;
  std::printf("\n%lld fp32 values (%.2f GiB); peak %.0f GB/s (%s; device attributes give %.0f); median of %d runs\n",
              static_cast<long long>(n), fp32 / (1 << 30), peak, o.peak_gb_per_s > 0 ? "given" : "device attributes",
              device_peak, o.repeat);
  std::printf("%-34s %10s %10s %9s %9s\n", "kernel", "ms", "GB/s", "of peak", "of copy");
  for (const Row& row : rows) {
    const double gb_per_s = row.bytes / (row.ms * 1e-3) / 1e9;
    std::printf("%-34s %10.3f %10.1f %8.1f%% %8.1f%%\n", row.name.c_str(), row.ms, gb_per_s, 100 * gb_per_s / peak,
                100 * gb_per_s / copy_gb_per_s);
  }
  const double target = rows[1].bytes / (rows[1].ms * 1e-3) / 1e9 / peak;
  int status = 0;
  if (o.require_fraction > 0) {
    const bool met = target >= o.require_fraction;
    std::printf("target: quantise 1x128 e4m3 at %.1f%% of peak (required >= %.0f%%): %s\n", 100 * target,
                100 * o.require_fraction, met ? "met" : "NOT MET");
    status = met ? 0 : 1;
  }
  cudaFree(input);
  cudaFree(residual);
  cudaFree(output);
  cudaFree(codes);
  cudaFree(scales);
  return status;
}
