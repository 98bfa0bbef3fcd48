#pragma once
// Collectives on GPUs with NCCL (built when BRIX_HAVE_NCCL). Rank 0's ncclUniqueId (128 bytes)
// travels through the brix store. Without a usable GPU the constructor throws JobError: asking
// for NCCL never quietly becomes gloo.

#include <brix/collective/communicator.hpp>
#include <brix/net/store_client.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace brix::collective {

/// Whether this build has the NCCL backend.
[[nodiscard]] bool nccl_available();

/// CUDA devices this process can use; 0 without NCCL, a driver or a GPU.
[[nodiscard]] int cuda_device_count();

/// NCCL's unique id as bytes (needs no GPU); JobError when NCCL is not built in.
[[nodiscard]] std::string nccl_unique_id();

/// `device` is the CUDA device for this rank (usually LOCAL_RANK modulo the visible devices).
[[nodiscard]] std::unique_ptr<Communicator>
make_nccl_communicator(int rank, int size, int local_rank, net::StoreClient& store,
                       const std::string& key_prefix, std::chrono::milliseconds timeout);

} // namespace brix::collective
