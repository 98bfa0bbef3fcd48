// The device all-reduces through their run(DeviceByteExchange&) entry, as brix-worker's NCCL
// path calls them: ranks are threads sharing this GPU, each with its own stream, and the
// exchange copies pieces between their device buffers. CompressedAllReduce must equal
// fp8::compressed_all_reduce and ExchangeAllReduce fp8::fp32_all_reduce, bit for bit.

#include "gpu_common.hpp"

#include <brix/fp8/compressed_allreduce.hpp>
#include <brix/fp8/format.hpp>
#include <brix/fp8/in_process_exchange.hpp>
#include <brix/kernels/fp8_allreduce.hpp>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace brix;

namespace {

/// Ranks as threads: each publishes its device send buffer, all wait, each copies its pieces,
/// all wait again (so no send buffer is reused while a peer still reads it).
class ThreadExchange final : public kernels::DeviceByteExchange {
public:
  struct Group {
    explicit Group(int ranks) : sends(static_cast<std::size_t>(ranks)), barrier(ranks) {}
    std::vector<const std::uint8_t*> sends;
    std::barrier<> barrier;
  };
  ThreadExchange(Group& group, int rank) : m_group(group), m_rank(rank) {}
  int rank() const override { return m_rank; }
  int size() const override { return static_cast<int>(m_group.sends.size()); }
  void all_to_all(const std::uint8_t* send, std::uint8_t* recv, std::size_t piece, cudaStream_t stream) override {
    exchange(send, stream, [&](int from) {
      return std::pair{recv + piece * static_cast<std::size_t>(from),
                       m_group.sends[static_cast<std::size_t>(from)] + piece * static_cast<std::size_t>(m_rank)};
    }, piece);
  }
  void all_gather(const std::uint8_t* send, std::uint8_t* recv, std::size_t piece, cudaStream_t stream) override {
    exchange(send, stream, [&](int from) {
      return std::pair{recv + piece * static_cast<std::size_t>(from), m_group.sends[static_cast<std::size_t>(from)]};
    }, piece);
  }

private:
  template <typename Slots>
  void exchange(const std::uint8_t* send, cudaStream_t stream, Slots slots, std::size_t piece) {
    BRIX_CUDA_CHECK(cudaStreamSynchronize(stream)); // the send buffer is complete
    m_group.sends[static_cast<std::size_t>(m_rank)] = send;
    m_group.barrier.arrive_and_wait();
    for (int from = 0; from < size(); ++from) {
      const auto [to, source] = slots(from);
      BRIX_CUDA_CHECK(cudaMemcpyAsync(to, source, piece, cudaMemcpyDeviceToDevice, stream));
    }
    BRIX_CUDA_CHECK(cudaStreamSynchronize(stream));
    m_group.barrier.arrive_and_wait();
  }
  Group& m_group;
  int m_rank;
};

float value(int rank, std::int64_t i) {
  const auto h = static_cast<std::uint32_t>((static_cast<std::uint64_t>(i) * 2654435761u) ^ (rank * 40503u));
  return std::ldexp(static_cast<float>(h % 20001) - 10000.0f, static_cast<int>((i / 128) % 17) - 20);
}

/// Runs both device all-reduces on `ranks` threads and compares them with the CPU versions.
bool check(int ranks, std::int64_t n, fp8::Format format) {
  const auto un = static_cast<std::size_t>(n);
  std::vector<std::vector<float>> inputs(static_cast<std::size_t>(ranks), std::vector<float>(un));
  for (int r = 0; r < ranks; ++r) {
    for (std::int64_t i = 0; i < n; ++i) {
      inputs[static_cast<std::size_t>(r)][static_cast<std::size_t>(i)] = value(r, i);
    }
  }
  auto fp8_cpu = inputs;
  auto fp32_cpu = inputs;
  fp8::run_in_process(ranks, [&](fp8::InProcessExchange& exchange) {
    const auto r = static_cast<std::size_t>(exchange.rank());
    (void)fp8::compressed_all_reduce(exchange, fp8_cpu[r], format);
    (void)fp8::fp32_all_reduce(exchange, fp32_cpu[r]);
  });
  auto fp8_gpu = inputs;
  auto fp32_gpu = inputs;
  ThreadExchange::Group group(ranks);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < ranks; ++rank) {
    threads.emplace_back([&, rank] {
      const auto r = static_cast<std::size_t>(rank);
      ThreadExchange exchange(group, rank);
      cudaStream_t stream = nullptr;
      BRIX_CUDA_CHECK(cudaStreamCreate(&stream));
      float* data = nullptr;
      BRIX_CUDA_CHECK(cudaMalloc(&data, std::max<std::size_t>(un, 1) * sizeof(float)));
      kernels::CompressedAllReduce compressed(n, ranks, rank, format);
      kernels::ExchangeAllReduce fp32(n, ranks, rank);
      BRIX_CUDA_CHECK(cudaMemcpy(data, inputs[r].data(), un * sizeof(float), cudaMemcpyHostToDevice));
      BRIX_CUDA_CHECK(compressed.run(exchange, data, nullptr, stream));
      BRIX_CUDA_CHECK(cudaMemcpyAsync(fp8_gpu[r].data(), data, un * sizeof(float), cudaMemcpyDeviceToHost, stream));
      BRIX_CUDA_CHECK(cudaStreamSynchronize(stream));
      BRIX_CUDA_CHECK(cudaMemcpy(data, inputs[r].data(), un * sizeof(float), cudaMemcpyHostToDevice));
      BRIX_CUDA_CHECK(fp32.run(exchange, data, stream));
      BRIX_CUDA_CHECK(cudaMemcpyAsync(fp32_gpu[r].data(), data, un * sizeof(float), cudaMemcpyDeviceToHost, stream));
      BRIX_CUDA_CHECK(cudaStreamSynchronize(stream));
      BRIX_CUDA_CHECK(cudaFree(data));
      BRIX_CUDA_CHECK(cudaStreamDestroy(stream));
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  bool same = true;
  for (std::size_t r = 0; r < inputs.size(); ++r) {
    same = same && std::memcmp(fp8_gpu[r].data(), fp8_cpu[r].data(), un * sizeof(float)) == 0 &&
           std::memcmp(fp32_gpu[r].data(), fp32_cpu[r].data(), un * sizeof(float)) == 0;
  }
  std::printf("run() %s and fp32, %d ranks, %lld values: %s\n", std::string(fp8::to_string(format)).c_str(), ranks,
              static_cast<long long>(n), same ? "equal" : "DIFFERENT");
  return same;
}

} // namespace

int main() {
  gpu_checks::require_fp8_gpu("brix-fp8-gpu-exchange-test");
  int failures = 0;
  int cases = 0;
  for (const int ranks : {1, 2, 5}) {
    for (const std::int64_t n : {std::int64_t{0}, std::int64_t{1000}, std::int64_t{(1 << 20) + 77}}) {
      for (const auto format : {fp8::Format::e4m3, fp8::Format::e5m2}) {
        ++cases;
        failures += check(ranks, n, format) ? 0 : 1;
      }
    }
  }
  std::printf("brix-fp8-gpu-exchange-test: %d of %d checks equal to the CPU reference\n", cases - failures, cases);
  return failures == 0 ? 0 : 1;
}
