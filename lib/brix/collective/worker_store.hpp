#pragma once
// A worker's view of the rendezvous store that `brix launch` hosts: from BRIX_STORE_* and the
// torchrun variables. Also serves as gloo's rendezvous store and distributes NCCL unique ids.

#include <brix/util/env.hpp>
#include <brix/net/store_client.hpp>

#include <gloo/rendezvous/store.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace brix::collective {

/// Where this worker is in the job, from the launcher's environment.
struct WorkerIdentity {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string node_address; ///< BRIX_NODE_ADDR: the address peers reach this node at
  std::string store_addr;
  int store_port = 0;
  std::string store_token;
  std::string store_prefix; ///< per attempt, so restarts start clean
};

/// An InputError naming the missing variable when not started by `brix launch`.
[[nodiscard]] WorkerIdentity identity_from_environment(const util::EnvLookup& env);

/// A connected store client for this worker.
[[nodiscard]] std::unique_ptr<net::StoreClient> connect_worker_store(const WorkerIdentity& who,
                                                                     net::Connector& connector);

/// gloo::rendezvous::Store over the brix store, every key under `prefix`.
class GlooStore final : public gloo::rendezvous::Store {
public:
  GlooStore(net::StoreClient& client, std::string prefix, std::chrono::milliseconds timeout);
  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

private:
  net::StoreClient& m_client;
  std::string m_prefix;
  std::chrono::milliseconds m_timeout;
};

/// Rank 0 makes a blob (an NCCL unique id: 128 bytes) and publishes it under `key`; every other
/// rank waits for it. Returns the blob on every rank.
[[nodiscard]] std::string share_blob(net::StoreClient& client, const std::string& key, int rank,
                                     const std::function<std::string()>& make,
                                     std::chrono::milliseconds timeout);

} // namespace brix::collective
