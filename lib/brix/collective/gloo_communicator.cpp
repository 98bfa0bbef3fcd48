#include <brix/collective/gloo_communicator.hpp>

#include <brix/util/error.hpp>

#include <cstring>
#include <fmt/format.h>
#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/alltoall.h>
#include <gloo/barrier.h>
#include <gloo/math.h>
#include <gloo/reduce_scatter.h>
#include <gloo/rendezvous/context.h>
#include <gloo/transport/tcp/device.h>
#include <vector>

namespace brix::collective {
namespace {

class HostBuffer final : public Buffer {
public:
  explicit HostBuffer(std::size_t bytes) : m_data(bytes) {}
  void* data() override { return m_data.data(); }
  std::size_t bytes() const override { return m_data.size(); }

private:
  std::vector<unsigned char> m_data;
};

void require_f32(DataType type, std::string_view what) {
  if (type != DataType::f32) {
    throw InputError(fmt::format("{} reduces float data only", what));
  }
}

} // namespace

struct GlooCommunicator::ReduceScatterPlan {
  std::vector<float> scratch;
  std::unique_ptr<gloo::ReduceScatterHalvingDoubling<float>> algorithm;
};

GlooCommunicator::GlooCommunicator(int rank, int size, gloo::rendezvous::Store& store,
                                   const std::string& interface_address,
                                   std::chrono::milliseconds timeout) {
  gloo::transport::tcp::attr attr;
  attr.hostname = interface_address;
  auto device = gloo::transport::tcp::CreateDevice(attr);
  auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
  context->setTimeout(timeout);
  try {
    context->connectFullMesh(store, device);
  } catch (const gloo::Exception& e) {
    throw JobError(fmt::format("gloo: rank {} of {} could not connect to its peers: {}", rank,
                               size, e.what()));
  }
  m_context = std::move(context);
}

GlooCommunicator::~GlooCommunicator() = default;

int GlooCommunicator::rank() const { return m_context->rank; }
int GlooCommunicator::size() const { return m_context->size; }

std::uint32_t GlooCommunicator::next_tag() { return ++m_tag; }

std::unique_ptr<Buffer> GlooCommunicator::allocate(std::size_t bytes) {
  return std::make_unique<HostBuffer>(bytes);
}

void GlooCommunicator::copy_in(Buffer& to, std::size_t offset, const void* from,
                               std::size_t bytes) {
  std::memcpy(static_cast<char*>(to.data()) + offset, from, bytes);
}

void GlooCommunicator::copy_out(void* to, Buffer& from, std::size_t offset, std::size_t bytes) {
  std::memcpy(to, static_cast<const char*>(from.data()) + offset, bytes);
}

void GlooCommunicator::all_reduce(const void* send, void* recv, std::size_t count,
                                  DataType type) {
  require_f32(type, "all_reduce");
  if (send != recv) {
    std::memcpy(recv, send, count * sizeof(float));
  }
  gloo::AllreduceOptions options(m_context);
  options.setOutput(static_cast<float*>(recv), count);
  options.setReduceFunction(
      static_cast<void (*)(void*, const void*, const void*, std::size_t)>(&gloo::sum<float>));
  options.setTag(next_tag());
  gloo::allreduce(options);
}

void GlooCommunicator::all_gather(const void* send, void* recv, std::size_t count,
                                  DataType type) {
  const auto bytes = count * element_size(type);
  auto* out = static_cast<unsigned char*>(recv);
  gloo::AllgatherOptions options(m_context);
  // gloo's all-gather reads this rank's block of the output when no input is given (in place).
  if (send != out + static_cast<std::size_t>(rank()) * bytes) {
    options.setInput(const_cast<unsigned char*>(static_cast<const unsigned char*>(send)), bytes);
  }
  options.setOutput(out, bytes * static_cast<std::size_t>(size()));
  options.setTag(next_tag());
  gloo::allgather(options);
}

void GlooCommunicator::reduce_scatter(const void* send, void* recv, std::size_t count,
                                      DataType type) {
  require_f32(type, "reduce_scatter");
  const auto total = count * static_cast<std::size_t>(size());
  auto& plan = m_reduce_scatter[count];
  if (!plan) {
    plan = std::make_unique<ReduceScatterPlan>();
    plan->scratch.resize(total);
    std::vector<int> shares(static_cast<std::size_t>(size()), static_cast<int>(count));
    plan->algorithm = std::make_unique<gloo::ReduceScatterHalvingDoubling<float>>(
        m_context, std::vector<float*>{plan->scratch.data()}, static_cast<int>(total), shares);
  }
  std::memcpy(plan->scratch.data(), send, total * sizeof(float));
  plan->algorithm->run();
  // The algorithm leaves this rank's share at the start of its buffer.
  std::memmove(recv, plan->scratch.data(), count * sizeof(float));
}

void GlooCommunicator::all_to_all(const void* send, void* recv, std::size_t count,
                                  DataType type) {
  const auto bytes = count * element_size(type) * static_cast<std::size_t>(size());
  gloo::AlltoallOptions options(m_context);
  options.setInput(const_cast<unsigned char*>(static_cast<const unsigned char*>(send)), bytes);
  options.setOutput(static_cast<unsigned char*>(recv), bytes);
  options.setTag(next_tag());
  gloo::alltoall(options);
}

void GlooCommunicator::send_recv(const void* send, void* recv, std::size_t count,
                                 DataType type) {
  const auto bytes = count * element_size(type);
  if (size() == 1) {
    std::memmove(recv, send, bytes);
    return;
  }
  const auto slot = next_tag();
  auto out = m_context->createUnboundBuffer(const_cast<void*>(send), bytes);
  auto in = m_context->createUnboundBuffer(recv, bytes);
  const int next = (rank() + 1) % size();
  const int previous = (rank() + size() - 1) % size();
  in->recv(previous, slot);
  out->send(next, slot);
  in->waitRecv(m_context->getTimeout());
  out->waitSend(m_context->getTimeout());
}

void GlooCommunicator::exchange(const void* send, void* recv, std::size_t count, DataType type,
                                int peer) {
  if (peer < 0 || peer >= size() || peer == rank()) {
    throw InputError(fmt::format("exchange: peer {} (expected another rank of {})", peer, size()));
  }
  const auto bytes = count * element_size(type);
  // A slot prefix of its own keeps point-to-point traffic apart from the collectives' slots.
  constexpr std::uint64_t k_exchange_prefix = std::uint64_t{0xB1} << 56;
  const auto slot = k_exchange_prefix | m_exchanges[peer]++;
  auto out = m_context->createUnboundBuffer(const_cast<void*>(send), bytes);
  auto in = m_context->createUnboundBuffer(recv, bytes);
  in->recv(peer, slot);
  out->send(peer, slot);
  in->waitRecv(m_context->getTimeout());
  out->waitSend(m_context->getTimeout());
}

void GlooCommunicator::barrier() {
  gloo::BarrierOptions options(m_context);
  options.setTag(next_tag());
  gloo::barrier(options);
}

} // namespace brix::collective
