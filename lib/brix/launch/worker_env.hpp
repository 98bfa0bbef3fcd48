#pragma once
// The environment of one worker: the agent's own, plus torchrun's variables (so PyTorch scripts
// run unchanged) and brix's (BRIX_*: store access, node, binding, plan coordinates). Pure.

#include <brix/launch/binding.hpp>
#include <brix/launch/rendezvous.hpp>

#include <map>
#include <string>
#include <vector>

namespace brix::launch {

struct WorkerContext {
  const World* world = nullptr;
  int node_rank = 0;
  int local_rank = 0;
  int max_restarts = 0;
  std::string master_addr;    ///< as this node reaches node 0
  std::string error_file;     ///< TORCHELASTIC_ERROR_FILE
  std::string log_dir;        ///< this attempt's log directory
  std::string node_address;   ///< this node's address for peers (gloo binds to it)
  std::string store_addr;     ///< the rendezvous store, for brix-worker (gloo, NCCL ids)
  int store_port = 0;
  std::string store_token;
  Binding binding;
  std::map<std::string, std::string> extra; ///< more BRIX_* (plan coordinates)
};

/// `base` is "NAME=value" entries (the agent's environ); variables set here replace theirs.
[[nodiscard]] std::vector<std::string> worker_environment(const std::vector<std::string>& base,
                                                          const WorkerContext& context);

/// Key prefix in the store for the workers of one attempt (gloo rendezvous, NCCL unique ids).
[[nodiscard]] std::string worker_store_prefix(const std::string& run_id, int attempt);

} // namespace brix::launch
