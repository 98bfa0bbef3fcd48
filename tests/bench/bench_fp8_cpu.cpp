// CPU cost of the FP8 reference (what the gloo compressed all-reduce pays per step): quantise,
// quantise with error feedback, dequantise and dequantise-accumulate, as bytes per second and as
// a ratio to memcpy of the same fp32 buffer measured in the same run; then the in-process
// compressed all-reduce against the same exchange in fp32 (threads as ranks).
// Usage: bench-fp8-cpu [elements] (default 2^24)

#include <brix/fp8/compressed_allreduce.hpp>
#include <brix/fp8/in_process_exchange.hpp>
#include <brix/fp8/quantize.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

using namespace brix::fp8;

namespace {

/// Median seconds of 7 runs after one warm-up.
double median_seconds(const std::function<void()>& work) {
  work();
  std::vector<double> times;
  for (int i = 0; i < 7; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : (std::int64_t{1} << 24);
  const auto un = static_cast<std::size_t>(n);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> input(un);
  for (auto& x : input) {
    x = normal(rng);
  }
  std::vector<float> out(un);
  std::vector<float> residual(un, 0.0f);
  std::vector<std::uint8_t> codes(un);
  std::vector<float> scales(static_cast<std::size_t>(ceil_div(n, 128)));
  const QuantizeSpec spec{{1, n}, BlockShape::row_1x128, Format::e4m3};

  const double fp32 = 4.0 * static_cast<double>(n);
  const double memcpy_s = median_seconds([&] { std::memcpy(out.data(), input.data(), un * sizeof(float)); });
  struct Row {
    const char* name;
    double seconds;
  };
  const Row rows[] = {
      {"quantise 1x128 e4m3", median_seconds([&] { quantize(spec, input, codes, scales); })},
      {"quantise + error feedback", median_seconds([&] { quantize_with_feedback(spec, input, residual, codes, scales); })},
      {"dequantise", median_seconds([&] { dequantize(spec, codes, scales, out); })},
      {"dequantise-accumulate", median_seconds([&] { dequantize_accumulate(spec, codes, scales, out); })},
  };
  std::printf("%lld fp32 values; memcpy of them: %.2f ms (%.2f GB/s of fp32 read)\n", static_cast<long long>(n),
              memcpy_s * 1e3, fp32 / memcpy_s / 1e9);
  std::printf("%-28s %10s %14s %14s\n", "", "ms", "fp32 GB/s", "vs memcpy");
  for (const Row& row : rows) {
    std::printf("%-28s %10.2f %14.2f %13.2fx\n", row.name, row.seconds * 1e3, fp32 / row.seconds / 1e9,
                row.seconds / memcpy_s);
  }

  const int ranks = 4;
  const std::int64_t per_rank = std::min<std::int64_t>(n, std::int64_t{1} << 22);
  auto all_reduce_seconds = [&](bool compressed) {
    return median_seconds([&] {
      run_in_process(ranks, [&](InProcessExchange& exchange) {
        std::vector<float> data(input.begin(), input.begin() + per_rank);
        if (compressed) {
          (void)compressed_all_reduce(exchange, data, Format::e4m3);
        } else {
          (void)fp32_all_reduce(exchange, data);
        }
      });
    });
  };
  const double plain = all_reduce_seconds(false);
  const double fp8 = all_reduce_seconds(true);
  std::printf("in-process all-reduce, %d ranks x %lld values: fp32 %.2f ms, fp8 %.2f ms (%.2fx; threads share "
              "memory, so this is the compression's CPU cost, not a network gain)\n",
              ranks, static_cast<long long>(per_rank), plain * 1e3, fp8 * 1e3, fp8 / plain);
  return 0;
}
