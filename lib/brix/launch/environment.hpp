#pragma once
// Which nodes take part in the job and which one this agent is: from Slurm (`SLURM_*`), from
// `--hosts` / a DeepSpeed-style `--hostfile` with `--node-rank`, or one node when nothing says
// otherwise. Nothing here falls back silently: inconsistent input is an InputError.

#include <brix/util/env.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::launch {


/// What the command line said about nodes.
struct NodeRequest {
  /// --hosts, hostlist syntax ("n[1-4]", "a,b"). Given but empty is an error, never "no list".
  std::optional<std::string> hosts;
  std::optional<std::string> hostfile; ///< --hostfile path
  std::optional<int> node_rank;
  std::optional<int> nnodes;
  bool standalone = false; ///< --standalone: this node alone, whatever Slurm says
};

/// torchrun's --nnodes: "N" or "MIN:MAX" with MIN == MAX (elastic ranges are an InputError).
[[nodiscard]] int parse_nnodes(const std::string& text);

struct NodeSet {
  std::vector<std::string> hosts; ///< node names in node-rank order
  std::vector<int> slots;         ///< per host from a hostfile; empty when unknown
  int node_rank = 0;
  std::string source;             ///< "slurm", "--hosts", "--hostfile" or "single node"
  std::string job_id;             ///< SLURM_JOB_ID when under Slurm
  int slurm_restart_count = 0;    ///< SLURM_RESTART_COUNT (requeues)
  [[nodiscard]] int nnodes() const { return static_cast<int>(hosts.size()); }
  [[nodiscard]] const std::string& name() const { return hosts.at(node_rank); }
};

[[nodiscard]] NodeSet detect_nodes(const NodeRequest& request, const util::EnvLookup& env);

/// DeepSpeed hostfile lines `host slots=N` (comments with #); errors are `<file>:<line>: ...`.
struct HostfileEntry {
  std::string host;
  int slots = 0; ///< 0 when the line gives none
};
[[nodiscard]] std::vector<HostfileEntry> parse_hostfile(std::string_view text,
                                                        const std::string& file);

/// Turns a node name into an address to connect to.
class NameResolver {
public:
  virtual ~NameResolver() = default;
  /// nullopt when this resolver does not know the name; `why` says why.
  [[nodiscard]] virtual std::optional<std::string> address_of(const std::string& name,
                                                              std::string& why) = 0;
  [[nodiscard]] virtual std::string_view source() const = 0;
};

/// getaddrinfo; prefers IPv4.
class DnsResolver final : public NameResolver {
public:
  std::optional<std::string> address_of(const std::string& name, std::string& why) override;
  std::string_view source() const override { return "DNS"; }
};

/// Slurm's NodeAddr from `scontrol show node NAME` (what slurmd itself uses when names do not
/// resolve, e.g. emulated nodes or clusters without DNS for node names).
class SlurmNodeAddrResolver final : public NameResolver {
public:
  std::optional<std::string> address_of(const std::string& name, std::string& why) override;
  std::string_view source() const override { return "scontrol show node"; }
};

/// `NodeAddr=...` from `scontrol show node` output; nullopt when absent.
[[nodiscard]] std::optional<std::string> parse_node_addr(std::string_view scontrol_output);

/// Tries each resolver in order; none knowing the name is an InputError naming the node, what
/// every resolver said and `hint` (another way to give the address, if there is one).
[[nodiscard]] std::string resolve_node(const std::string& name,
                                       const std::vector<NameResolver*>& resolvers,
                                       std::string_view hint = {});

} // namespace brix::launch
