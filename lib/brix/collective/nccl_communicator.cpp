#include <brix/collective/nccl_communicator.hpp>

#include <brix/build_config.hpp>
#include <brix/collective/worker_store.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#if BRIX_HAVE_NCCL
#include <cuda_runtime_api.h>
#include <nccl.h>
#endif

namespace brix::collective {

#if BRIX_HAVE_NCCL
namespace {

void check_cuda(cudaError_t status, std::string_view what) {
  if (status != cudaSuccess) {
    throw JobError(fmt::format("{}: {} ({})", what, cudaGetErrorString(status),
                               cudaGetErrorName(status)));
  }
}

void check_nccl(ncclResult_t status, std::string_view what) {
  if (status != ncclSuccess) {
    throw JobError(fmt::format("{}: {}", what, ncclGetErrorString(status)));
  }
}

ncclDataType_t nccl_type(DataType type) { return type == DataType::f32 ? ncclFloat32 : ncclUint8; }

class DeviceBuffer final : public Buffer {
public:
  explicit DeviceBuffer(std::size_t bytes) : m_bytes(bytes) {
    check_cuda(cudaMalloc(&m_data, std::max<std::size_t>(bytes, 1)), "cudaMalloc");
  }
  ~DeviceBuffer() override { cudaFree(m_data); }
  void* data() override { return m_data; }
  std::size_t bytes() const override { return m_bytes; }

private:
  void* m_data = nullptr;
  std::size_t m_bytes;
};

class NcclCommunicator final : public Communicator {
public:
  NcclCommunicator(int rank, int size, ncclUniqueId id) : m_rank(rank), m_size(size) {
    check_cuda(cudaStreamCreate(&m_stream), "cudaStreamCreate");
    check_nccl(ncclCommInitRank(&m_comm, size, id, rank), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    ncclCommDestroy(m_comm);
    cudaStreamDestroy(m_stream);
  }
  int rank() const override { return m_rank; }
  int size() const override { return m_size; }
  std::string_view backend() const override { return "nccl"; }
  std::unique_ptr<Buffer> allocate(std::size_t bytes) override {
    return std::make_unique<DeviceBuffer>(bytes);
  }
  void copy_in(Buffer& to, std::size_t offset, const void* from, std::size_t bytes) override {
    check_cuda(cudaMemcpy(static_cast<char*>(to.data()) + offset, from, bytes,
                          cudaMemcpyHostToDevice),
               "cudaMemcpy");
  }
  void copy_out(void* to, Buffer& from, std::size_t offset, std::size_t bytes) override {
    check_cuda(cudaMemcpy(to, static_cast<const char*>(from.data()) + offset, bytes,
                          cudaMemcpyDeviceToHost),
               "cudaMemcpy");
  }
  void all_reduce(const void* send, void* recv, std::size_t count, DataType type) override {
    check_nccl(ncclAllReduce(send, recv, count, nccl_type(type), ncclSum, m_comm, m_stream),
               "ncclAllReduce");
  }
  void all_gather(const void* send, void* recv, std::size_t count, DataType type) override {
    check_nccl(ncclAllGather(send, recv, count, nccl_type(type), m_comm, m_stream),
               "ncclAllGather");
  }
  void reduce_scatter(const void* send, void* recv, std::size_t count, DataType type) override {
    check_nccl(ncclReduceScatter(send, recv, count, nccl_type(type), ncclSum, m_comm, m_stream),
               "ncclReduceScatter");
  }
  void all_to_all(const void* send, void* recv, std::size_t count, DataType type) override {
    const auto bytes = count * element_size(type);
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    for (int peer = 0; peer < m_size; ++peer) {
      check_nccl(ncclSend(static_cast<const char*>(send) + peer * bytes, count, nccl_type(type),
                          peer, m_comm, m_stream),
                 "ncclSend");
      check_nccl(ncclRecv(static_cast<char*>(recv) + peer * bytes, count, nccl_type(type), peer,
                          m_comm, m_stream),
                 "ncclRecv");
    }
    check_nccl(ncclGroupEnd(), "ncclGroupEnd");
  }
  void send_recv(const void* send, void* recv, std::size_t count, DataType type) override {
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    check_nccl(ncclSend(send, count, nccl_type(type), (m_rank + 1) % m_size, m_comm, m_stream),
               "ncclSend");
    check_nccl(ncclRecv(recv, count, nccl_type(type), (m_rank + m_size - 1) % m_size, m_comm,
                        m_stream),
               "ncclRecv");
    check_nccl(ncclGroupEnd(), "ncclGroupEnd");
  }
  void exchange(const void* send, void* recv, std::size_t count, DataType type,
                int peer) override {
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    check_nccl(ncclSend(send, count, nccl_type(type), peer, m_comm, m_stream), "ncclSend");
    check_nccl(ncclRecv(recv, count, nccl_type(type), peer, m_comm, m_stream), "ncclRecv");
    check_nccl(ncclGroupEnd(), "ncclGroupEnd");
  }
  void barrier() override {
    // An all-reduce of one float is NCCL's barrier.
    DeviceBuffer one(sizeof(float));
    all_reduce(one.data(), one.data(), 1, DataType::f32);
    synchronize();
  }
  void synchronize() override { check_cuda(cudaStreamSynchronize(m_stream), "cudaStreamSynchronize"); }
  void* device_stream() override { return m_stream; }

private:
  int m_rank;
  int m_size;
  ncclComm_t m_comm = nullptr;
  cudaStream_t m_stream = nullptr;
};

} // namespace

bool nccl_available() { return true; }

int cuda_device_count() {
  int devices = 0;
  return cudaGetDeviceCount(&devices) == cudaSuccess ? devices : 0;
}

std::string nccl_unique_id() {
  ncclUniqueId id;
  check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  return std::string(id.internal, sizeof id.internal);
}

std::unique_ptr<Communicator> make_nccl_communicator(int rank, int size, int local_rank,
                                                     net::StoreClient& store,
                                                     const std::string& key_prefix,
                                                     std::chrono::milliseconds timeout) {
  int devices = 0;
  const auto status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0) {
    throw JobError(fmt::format(
        "the NCCL backend needs a GPU, and rank {} has none: cudaGetDeviceCount: {} (use "
        "--backend gloo to run on CPU)",
        rank, status != cudaSuccess ? cudaGetErrorString(status) : "0 devices"));
  }
  check_cuda(cudaSetDevice(local_rank % devices), "cudaSetDevice");
  const auto blob = share_blob(store, key_prefix + "nccl_unique_id", rank, nccl_unique_id, timeout);
  ncclUniqueId id;
  if (blob.size() != sizeof id.internal) {
    throw JobError(fmt::format("NCCL unique id of {} bytes from the store (expected {})",
                               blob.size(), sizeof id.internal));
  }
  std::memcpy(id.internal, blob.data(), blob.size());
  return std::make_unique<NcclCommunicator>(rank, size, id);
}

#else

bool nccl_available() { return false; }

int cuda_device_count() { return 0; }

std::string nccl_unique_id() {
  throw JobError("this brix was built without NCCL (CUDA toolkit not found at build time)");
}

std::unique_ptr<Communicator> make_nccl_communicator(int, int, int, net::StoreClient&,
                                                     const std::string&,
                                                     std::chrono::milliseconds) {
  throw JobError("the NCCL backend was requested, but this brix was built without NCCL (CUDA "
                 "toolkit not found at build time)");
}

#endif

} // namespace brix::collective
