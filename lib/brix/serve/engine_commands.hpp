#pragma once
// The command line of one node of one engine instance, spelled for the engine version of the
// plan (engines.hpp), and the P/D router's. Every emitter (shell scripts, sbatch, Kubernetes)
// renders these; the unit tests parse them back flag by flag.

#include <brix/serve/deployment.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace brix::serve {

/// How a command names its instance's leader and its own rank among the instance's nodes: as
/// known values (scripts) or as shell variables (Kubernetes' LWS_WORKER_INDEX).
struct NodeRef {
  std::string leader;        ///< shell expression of the leader's address: "$NODE_4", "$LWS_LEADER_ADDRESS"
  std::optional<int> rank;   ///< the node's rank within its instance, when known
  std::string rank_variable; ///< else the variable holding it, "LWS_WORKER_INDEX"
  std::string self;          ///< shell expression of this node's own address: "$NODE_5", "$POD_IP"
  std::string nodes_variable; ///< the variable holding the instance's node count ("LWS_GROUP_SIZE"), if any
  [[nodiscard]] bool leader_node() const { return rank && *rank == 0; }
  /// "3", or "$LWS_WORKER_INDEX".
  [[nodiscard]] std::string rank_text() const;
  /// rank × factor: "24", or "$((LWS_WORKER_INDEX * 8))".
  [[nodiscard]] std::string rank_times(int factor) const;
  /// "2", or "$LWS_GROUP_SIZE" where the orchestrator says it.
  [[nodiscard]] std::string nodes_text(int nodes) const;
};

struct Command {
  std::vector<std::string> setup;                           ///< shell lines before it (ray start, config files)
  std::vector<std::pair<std::string, std::string>> env;     ///< variables for this process only
  std::vector<std::string> argv;                            ///< "$MODEL" and "$NODE_0" stay shell expressions
};

/// The engine command of `node` (0 … instance.nodes − 1) of `instance`. The model is "$MODEL".
[[nodiscard]] Command engine_command(const Deployment& deployment, const InstancePlacement& instance,
                                     const NodeRef& node);

/// The P/D router in front of the prefill and decode instances (URLs "http://host:port").
[[nodiscard]] Command router_command(const Deployment& deployment, const std::vector<std::string>& prefill,
                                     const std::vector<std::string>& decode);

/// `word` as one shell word: bare when safe, double-quoted when it expands a variable, else
/// single-quoted.
[[nodiscard]] std::string shell_word(std::string_view word);
/// "env ENV=1 prog --flag value" (or "prog --flag value") on one line, safe after `exec`
/// (setup lines not included).
[[nodiscard]] std::string command_line(const Command& command);

} // namespace brix::serve
