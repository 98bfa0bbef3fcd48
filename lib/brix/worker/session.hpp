#pragma once
// A brix-worker's communicator: the backend asked for, connected through the launcher's store.

#include <brix/collective/communicator.hpp>
#include <brix/collective/worker_store.hpp>
#include <brix/net/socket.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace brix::worker {

struct Session {
  collective::WorkerIdentity identity;
  std::unique_ptr<net::TcpConnector> connector;
  std::unique_ptr<net::StoreClient> store;
  std::unique_ptr<collective::GlooStore> gloo_store;
  std::unique_ptr<collective::Communicator> comm;
  /// Set when "auto" chose gloo: why (for the user, on stderr).
  std::string backend_note;
};

/// `backend`: "gloo", "nccl", or "auto" (NCCL when this build has it and a GPU is visible, else
/// gloo). "nccl" without a GPU is a JobError, never gloo.
[[nodiscard]] Session open_session(const std::string& backend, std::chrono::milliseconds timeout);

/// "pid 123 on n1 (local rank 0)" for the bench's rank table.
[[nodiscard]] std::string describe_rank(const collective::WorkerIdentity& identity);

} // namespace brix::worker
