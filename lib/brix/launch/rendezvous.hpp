#pragma once
// Agents agree on one world per attempt through the store hosted by node 0's agent:
//   rdzv/<attempt>/node/<node rank>  each agent's AgentInfo (set once; a second claim is an error)
//   rdzv/<attempt>/world             node 0's World once every node arrived, or {"error": ...}
// Ranks follow node rank order: node k's workers are ranks first_rank(k) .. + nproc(k) - 1.

#include <brix/net/store_client.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace brix::launch {

struct AgentInfo {
  int node_rank = 0;
  std::string node;    ///< node name
  std::string address; ///< where the node can be reached
  int nproc = 1;       ///< workers on this node
  int nnodes = 1;      ///< how many nodes this agent expects
  [[nodiscard]] nlohmann::json to_json() const;
  [[nodiscard]] static AgentInfo from_json(const nlohmann::json& json);
};

struct World {
  int attempt = 0;
  std::string run_id;
  std::string master_addr;
  int master_port = 0;
  std::vector<AgentInfo> nodes; ///< by node rank
  [[nodiscard]] int world_size() const;
  [[nodiscard]] int first_rank(int node_rank) const;
  [[nodiscard]] nlohmann::json to_json() const;
  [[nodiscard]] static World from_json(const nlohmann::json& json);
  /// A compact tab-separated form for the store: every agent reads the whole world, so at
  /// thousands of nodes its parse cost matters (a JSON parse of it dominated a 1,024-agent run).
  [[nodiscard]] std::string encode() const;
  /// Throws JobError on a malformed text, or with the message of an "error" line.
  [[nodiscard]] static World decode(std::string_view text);
};

struct RendezvousOptions {
  int nnodes = 1;
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  std::string run_id;
  std::string master_addr; ///< node 0 publishes these
  int master_port = 0;
  std::vector<std::string> hosts; ///< expected node names, to name the missing ones
  /// Called about once a second while waiting; throws to abandon the rendezvous (a signal).
  std::function<void()> check_interrupt;
};

/// Joins attempt `attempt`; returns the agreed World. A node that does not arrive within the
/// timeout is named in the JobError every agent gets.
[[nodiscard]] World join_rendezvous(net::StoreClient& store, const AgentInfo& me, int attempt,
                                    const RendezvousOptions& options);

[[nodiscard]] std::string rendezvous_key(int attempt, const std::string& name);

} // namespace brix::launch
