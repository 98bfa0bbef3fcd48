#include <brix/kernels/device_compressed_bench.hpp>

#include <brix/kernels/communicator_exchange.hpp>
#include <brix/kernels/fp8_allreduce.hpp>
#include <brix/util/error.hpp>

#include <fmt/format.h>

namespace brix::kernels {

namespace {

void check_cuda(cudaError_t status, std::string_view what) {
  if (status != cudaSuccess) {
    throw JobError(fmt::format("fp8 bench on the GPU: {}: {} ({})", what, cudaGetErrorString(status),
                               cudaGetErrorName(status)));
  }
}

class DevicePaths final : public worker::CompressedPaths {
public:
  DevicePaths(collective::Communicator& comm, fp8::Format format)
      : m_comm(comm), m_format(format), m_exchange(comm) {}

  void load(std::span<const float> input) override {
    m_count = input.size();
    const std::size_t bytes = std::max<std::size_t>(input.size_bytes(), 4);
    if (!m_input || m_input->bytes() < bytes) {
      m_input = m_comm.allocate(bytes);
      m_work = m_comm.allocate(bytes);
    }
    m_comm.copy_in(*m_input, 0, input.data(), input.size_bytes());
    const auto elements = static_cast<std::int64_t>(m_count);
    m_compressed = std::make_unique<CompressedAllReduce>(elements, m_comm.size(), m_comm.rank(), m_format);
    m_fp32 = std::make_unique<ExchangeAllReduce>(elements, m_comm.size(), m_comm.rank());
  }
  std::int64_t native() override {
    restore();
    m_comm.all_reduce(m_work->data(), m_work->data(), m_count, collective::DataType::f32);
    m_comm.synchronize();
    return 0;
  }
  std::int64_t exchange() override {
    restore();
    check_cuda(m_fp32->run(m_exchange, work(), m_exchange.stream()), "fp32 exchange all-reduce");
    m_comm.synchronize();
    return sent(static_cast<std::int64_t>(m_fp32->piece_bytes()));
  }
  std::int64_t compressed() override {
    restore();
    check_cuda(m_compressed->run(m_exchange, work(), nullptr, m_exchange.stream()), "fp8 all-reduce");
    m_comm.synchronize();
    return sent(static_cast<std::int64_t>(m_compressed->piece_bytes()));
  }
  std::vector<float> result() override {
    std::vector<float> host(m_count);
    m_comm.copy_out(host.data(), *m_work, 0, m_count * sizeof(float));
    return host;
  }
  std::string_view kernels() const override { return "CUDA kernels"; }

private:
  float* work() { return static_cast<float*>(m_work->data()); }
  /// Every run starts from the input: a device-to-device copy on the communicator's stream.
  void restore() {
    check_cuda(cudaMemcpyAsync(m_work->data(), m_input->data(), m_count * sizeof(float), cudaMemcpyDeviceToDevice,
                               m_exchange.stream()),
               "cudaMemcpyAsync");
  }
  /// Bytes this rank sends to the others: an all-to-all and an all-gather of one piece each.
  [[nodiscard]] std::int64_t sent(std::int64_t piece) const { return 2 * (m_comm.size() - 1) * piece; }

  collective::Communicator& m_comm;
  fp8::Format m_format;
  CommunicatorDeviceExchange m_exchange;
  std::size_t m_count = 0;
  std::unique_ptr<collective::Buffer> m_input;
  std::unique_ptr<collective::Buffer> m_work;
  std::unique_ptr<CompressedAllReduce> m_compressed;
  std::unique_ptr<ExchangeAllReduce> m_fp32;
};

} // namespace

std::unique_ptr<worker::CompressedPaths> make_device_paths(collective::Communicator& comm, fp8::Format format) {
  return std::make_unique<DevicePaths>(comm, format);
}

} // namespace brix::kernels
