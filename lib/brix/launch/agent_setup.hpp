#pragma once
// The agent's decisions before the first rendezvous: run id, job token, where node 0 is, ports.

#include <brix/launch/environment.hpp>

#include <string>

namespace brix::launch {

/// torchrun's --rdzv-backend: c10d (what brix's store stands in for) is accepted; anything else
/// (etcd, static, ...) is an InputError.
void check_rdzv_backend(const std::string& backend);

/// --rdzv-id; else slurm-$SLURM_JOB_ID (not for --standalone); else, for several nodes, an id derived from the node
/// list and the rendezvous port (every agent of the job computes the same); else a random id.
[[nodiscard]] std::string choose_run_id(const std::string& given, const util::EnvLookup& env,
                                        const NodeSet& nodes, int rdzv_port);

/// --rdzv-token, else BRIX_JOB_TOKEN, else (one node) a random token, else a token derived from
/// the run id and the user: every agent of the job derives the same one. A derived token only
/// keeps other jobs and stray clients out; for a secret, set BRIX_JOB_TOKEN (the sbatch wrapper
/// does).
[[nodiscard]] std::string choose_token(const std::string& given, const util::EnvLookup& env,
                                       const std::string& run_id, bool single_node);

/// Whether choose_token would derive the token (several nodes, none given, no BRIX_JOB_TOKEN):
/// node 0 warns then.
[[nodiscard]] bool token_is_guessable(const std::string& given, const util::EnvLookup& env,
                                      bool single_node);

/// The node collector's socket: $TMPDIR (else /tmp) /brix-monitor-<digest of run id and
/// user>-<node rank>.sock. A digest, not the run id, keeps the path within sun_path's 107 bytes
/// for any --rdzv-id; a $TMPDIR too long for that is passed over for /tmp.
[[nodiscard]] std::string monitor_socket_path(const std::string& run_id, int node_rank,
                                              const util::EnvLookup& env);

/// 32 hex digits from /dev/urandom.
[[nodiscard]] std::string random_hex();

/// Where node `node_rank` can be reached from this node: 127.0.0.1 for one node, else its name
/// resolved by DNS, then (under Slurm) by its NodeAddr.
[[nodiscard]] std::string node_address(const NodeSet& nodes, int node_rank);

/// Whether `address` is a loopback address (emulated nodes, one machine).
[[nodiscard]] bool is_loopback(const std::string& address);

/// A TCP port free on 127.0.0.1 now (for one-node jobs; torchrun --standalone does the same).
[[nodiscard]] int free_local_port();

/// Whether something already holds `port` on `address` ("" = any interface). Binds, does not
/// listen.
[[nodiscard]] bool port_in_use(const std::string& address, int port);

} // namespace brix::launch
