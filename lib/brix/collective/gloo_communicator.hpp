#pragma once
// Collectives on CPU with gloo over TCP; its rendezvous goes through the brix store.

#include <brix/collective/communicator.hpp>
#include <brix/collective/worker_store.hpp>

#include <chrono>
#include <map>
#include <memory>

namespace gloo {
class Context;
namespace rendezvous {
class Store;
}
} // namespace gloo

namespace brix::collective {

class GlooCommunicator final : public Communicator {
public:
  /// Connects every pair of ranks; `interface_address` is where peers reach this rank.
  GlooCommunicator(int rank, int size, gloo::rendezvous::Store& store,
                   const std::string& interface_address, std::chrono::milliseconds timeout);
  ~GlooCommunicator() override;

  int rank() const override;
  int size() const override;
  std::string_view backend() const override { return "gloo"; }
  std::unique_ptr<Buffer> allocate(std::size_t bytes) override;
  void copy_in(Buffer& to, std::size_t offset, const void* from, std::size_t bytes) override;
  void copy_out(void* to, Buffer& from, std::size_t offset, std::size_t bytes) override;
  void all_reduce(const void* send, void* recv, std::size_t count, DataType type) override;
  void all_gather(const void* send, void* recv, std::size_t count, DataType type) override;
  void reduce_scatter(const void* send, void* recv, std::size_t count, DataType type) override;
  void all_to_all(const void* send, void* recv, std::size_t count, DataType type) override;
  void send_recv(const void* send, void* recv, std::size_t count, DataType type) override;
  void exchange(const void* send, void* recv, std::size_t count, DataType type,
                int peer) override;
  void barrier() override;
  void synchronize() override {}

private:
  struct ReduceScatterPlan;
  std::uint32_t next_tag();
  std::shared_ptr<gloo::Context> m_context;
  std::uint32_t m_tag = 0;
  /// Exchanges so far with each peer: both ends count alike, so the count names the slot
  /// without touching m_tag, which every rank must advance together for the collectives.
  std::map<int, std::uint64_t> m_exchanges;
  /// gloo's reduce-scatter is an algorithm object with buffers bound at construction; one per
  /// element count, reused across calls.
  std::map<std::size_t, std::unique_ptr<ReduceScatterPlan>> m_reduce_scatter;
};

} // namespace brix::collective
