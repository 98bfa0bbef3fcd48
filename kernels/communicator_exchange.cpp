#include <brix/kernels/communicator_exchange.hpp>

#include <brix/util/error.hpp>

#include <fmt/format.h>

namespace brix::kernels {

namespace {

void check_cuda(cudaError_t status, std::string_view what) {
  if (status != cudaSuccess) {
    throw JobError(fmt::format("{}: {} ({})", what, cudaGetErrorString(status), cudaGetErrorName(status)));
  }
}

} // namespace

CommunicatorDeviceExchange::CommunicatorDeviceExchange(collective::Communicator& comm)
    : m_comm(comm), m_stream(static_cast<cudaStream_t>(comm.device_stream())) {
  if (m_stream == nullptr) {
    throw JobError(fmt::format("the {} backend's buffers are host memory (expected a device backend: nccl)",
                               comm.backend()));
  }
  check_cuda(cudaEventCreateWithFlags(&m_event, cudaEventDisableTiming), "cudaEventCreate");
}

CommunicatorDeviceExchange::~CommunicatorDeviceExchange() { cudaEventDestroy(m_event); }

void CommunicatorDeviceExchange::order(cudaStream_t before, cudaStream_t waiting) {
  if (before == waiting) {
    return;
  }
  check_cuda(cudaEventRecord(m_event, before), "cudaEventRecord");
  check_cuda(cudaStreamWaitEvent(waiting, m_event, 0), "cudaStreamWaitEvent");
}

void CommunicatorDeviceExchange::all_to_all(const std::uint8_t* send, std::uint8_t* recv, std::size_t piece_bytes,
                                            cudaStream_t stream) {
  order(stream, m_stream);
  m_comm.all_to_all(send, recv, piece_bytes, collective::DataType::u8);
  order(m_stream, stream);
}

void CommunicatorDeviceExchange::all_gather(const std::uint8_t* send, std::uint8_t* recv, std::size_t piece_bytes,
                                            cudaStream_t stream) {
  order(stream, m_stream);
  m_comm.all_gather(send, recv, piece_bytes, collective::DataType::u8);
  order(m_stream, stream);
}

} // namespace brix::kernels
