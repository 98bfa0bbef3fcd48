#include <brix/launch/environment.hpp>

#include <brix/launch/hostlist.hpp>
#include <brix/util/error.hpp>
#include <brix/util/host_name.hpp>
#include <brix/util/input_file.hpp>
#include <brix/util/run_command.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <cstdlib>
#include <fmt/format.h>
#include <netdb.h>
#include <sstream>
#include <utility>

namespace brix::launch {
namespace {

std::optional<int> env_int(const util::EnvLookup& env, std::string_view name) {
  const auto text = env(name);
  if (!text) {
    return std::nullopt;
  }
  const auto value = util::parse_int(util::trim(*text));
  if (!value || *value < 0 || *value > 1'000'000) {
    throw InputError(fmt::format("{}='{}' (expected a non-negative integer)", name, *text));
  }
  return static_cast<int>(*value);
}

std::string read_file(const std::string& path) {
  return util::read_input_file(path, "expected a hostfile: lines 'host slots=N'");
}

void check_node_rank(int node_rank, int nnodes, std::string_view source) {
  if (node_rank < 0 || node_rank >= nnodes) {
    throw InputError(fmt::format("node rank {} is outside the {} node(s) of {} (expected 0..{})",
                                 node_rank, nnodes, source, nnodes - 1));
  }
}

NodeSet from_slurm(const util::EnvLookup& env) {
  NodeSet nodes;
  nodes.source = "slurm";
  nodes.job_id = env("SLURM_JOB_ID").value_or("");
  nodes.slurm_restart_count = env_int(env, "SLURM_RESTART_COUNT").value_or(0);
  // Inside `srun` the step's node list is the set of agents; the job's list may be larger.
  const bool in_step = env("SLURM_STEP_ID").has_value() || env("SLURM_STEPID").has_value();
  const auto list_name = env("SLURM_STEP_NODELIST") ? "SLURM_STEP_NODELIST" : "SLURM_JOB_NODELIST";
  const auto list = env(list_name);
  if (!list) {
    throw InputError(fmt::format("SLURM_JOB_ID={} is set but SLURM_JOB_NODELIST is not (expected "
                                 "to run inside a Slurm allocation)",
                                 nodes.job_id));
  }
  nodes.hosts = expand_hostlist(*list, list_name);
  const auto node_id = env_int(env, "SLURM_NODEID");
  if (!node_id) {
    throw InputError("SLURM_NODEID is not set (expected `srun --ntasks-per-node=1 brix launch ...`)");
  }
  if (!in_step && nodes.hosts.size() > 1) {
    throw InputError(fmt::format(
        "this is the batch script of a {}-node job, not a job step (expected one agent per node: "
        "srun --ntasks-per-node=1 brix launch ...)",
        nodes.hosts.size()));
  }
  const auto tasks = env_int(env, "SLURM_STEP_NUM_TASKS");
  const auto per_node = env("SLURM_STEP_TASKS_PER_NODE");
  if (tasks && *tasks != nodes.nnodes()) {
    throw InputError(fmt::format(
        "this job step runs {} tasks on {} nodes (SLURM_STEP_TASKS_PER_NODE={}); brix launch is "
        "one agent per node (expected srun --ntasks-per-node=1 brix launch ...)",
        *tasks, nodes.nnodes(), per_node.value_or("?")));
  }
  check_node_rank(*node_id, nodes.nnodes(), list_name);
  nodes.node_rank = *node_id;
  if (const auto me = env("SLURMD_NODENAME"); me && nodes.hosts[nodes.node_rank] != *me) {
    throw InputError(fmt::format("{} puts node {} at SLURM_NODEID={}, but SLURMD_NODENAME is {} "
                                 "(expected the same node)",
                                 list_name, nodes.hosts[nodes.node_rank], nodes.node_rank, *me));
  }
  return nodes;
}

NodeSet from_list(const NodeRequest& request, const util::EnvLookup& env) {
  NodeSet nodes;
  if (request.hosts) {
    nodes.source = "--hosts";
    nodes.hosts = expand_hostlist(*request.hosts, "--hosts");
  } else {
    nodes.source = "--hostfile";
    const auto& hostfile = *request.hostfile;
    if (hostfile.empty()) {
      throw InputError("--hostfile '' names no file (expected the path of a hostfile)");
    }
    for (const auto& entry : parse_hostfile(read_file(hostfile), hostfile)) {
      nodes.hosts.push_back(entry.host);
      nodes.slots.push_back(entry.slots);
    }
    if (nodes.hosts.empty()) {
      throw InputError(fmt::format("{}: no hosts (expected lines 'host slots=N')", hostfile));
    }
  }
  auto rank = request.node_rank;
  if (!rank && nodes.nnodes() > 1) {
    // Under Slurm the node id still says which line is ours.
    rank = env_int(env, "SLURM_NODEID");
  }
  if (!rank) {
    if (nodes.nnodes() > 1) {
      throw InputError(fmt::format("{} lists {} nodes but --node-rank is not given (expected "
                                   "--node-rank 0..{} on each node)",
                                   nodes.source, nodes.nnodes(), nodes.nnodes() - 1));
    }
    rank = 0;
  }
  check_node_rank(*rank, nodes.nnodes(), nodes.source);
  nodes.node_rank = *rank;
  return nodes;
}

} // namespace

std::vector<HostfileEntry> parse_hostfile(std::string_view text, const std::string& file) {
  std::vector<HostfileEntry> entries;
  int line_number = 0;
  for (const auto& raw : util::split(text, '\n')) {
    ++line_number;
    const auto line = util::trim(std::string_view(raw).substr(0, raw.find('#')));
    if (line.empty()) {
      continue;
    }
    const bool control = std::any_of(line.begin(), line.end(), [](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return (byte < 0x20 && c != '\t') || byte == 0x7f;
    });
    if (control || !util::is_valid_utf8(line)) {
      fail_input(file, line_number, fmt::format("'{}' holds a byte that is not printable text", util::printable(line)),
                 "host slots=N");
    }
    std::istringstream words{std::string(line)};
    HostfileEntry entry;
    words >> entry.host;
    if (!util::is_host_name(entry.host)) {
      fail_input(file, line_number, fmt::format("'{}' is not a host name", util::printable(entry.host)),
                 "host slots=N, the host letters, digits, '.', '-' and '_'");
    }
    for (const auto& seen : entries) {
      if (seen.host == entry.host) {
        fail_input(file, line_number, fmt::format("host {} is listed twice", entry.host), "each host on one line");
      }
    }
    std::string word;
    bool slots_given = false;
    while (words >> word) {
      if (!util::starts_with(word, "slots=")) {
        fail_input(file, line_number, fmt::format("unknown field '{}'", util::printable(word)), "host slots=N");
      }
      if (std::exchange(slots_given, true)) {
        fail_input(file, line_number, "slots given twice", "host slots=N");
      }
      const auto slots = util::parse_int(word.substr(6));
      if (!slots || *slots <= 0 || *slots > 4096) {
        fail_input(file, line_number, fmt::format("bad slot count '{}'", word.substr(6)),
                   "a positive integer");
      }
      entry.slots = static_cast<int>(*slots);
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

int parse_nnodes(const std::string& text) {
  const auto colon = text.find(':');
  const auto min = util::parse_int(text.substr(0, colon));
  const auto max = colon == std::string::npos ? min : util::parse_int(text.substr(colon + 1));
  if (!min || !max || *min < 1 || *max < 1 || *min > 1000000 || *max > 1000000) {
    throw InputError(fmt::format("--nnodes '{}' (expected N or N:N, a node count >= 1)", text));
  }
  if (*min != *max) {
    throw InputError(fmt::format("--nnodes {}: elastic node ranges are not supported (expected N or "
                                 "{}:{}, a fixed node count)",
                                 text, *max, *max));
  }
  return static_cast<int>(*min);
}

NodeSet detect_nodes(const NodeRequest& request, const util::EnvLookup& env) {
  if (request.hosts && request.hostfile) {
    throw InputError("--hosts and --hostfile both given (expected one of them)");
  }
  NodeSet nodes;
  if (request.standalone) {
    // Asked for by name: one node even under Slurm (like torchrun --standalone in an srun step).
    if (request.hosts || request.hostfile) {
      throw InputError(fmt::format("--standalone with {} (expected one of them: --standalone is "
                                   "one node)",
                                   request.hosts ? "--hosts" : "--hostfile"));
    }
    if (request.node_rank.value_or(0) != 0 || request.nnodes.value_or(1) != 1) {
      throw InputError("--standalone with --node-rank or --nnodes other than 1 (expected one node)");
    }
    nodes.source = "single node";
    nodes.hosts = {"localhost"};
    return nodes;
  }
  if (request.hosts || request.hostfile) {
    nodes = from_list(request, env);
  } else if (env("SLURM_JOB_ID")) {
    nodes = from_slurm(env);
  } else {
    if (request.node_rank.value_or(0) != 0) {
      throw InputError(fmt::format("--node-rank {} given without --hosts, --hostfile or Slurm "
                                   "(expected the node list too)",
                                   *request.node_rank));
    }
    if (request.nnodes.value_or(1) != 1) {
      throw InputError(fmt::format("--nnodes {} given, but there is no node list: not under Slurm "
                                   "and no --hosts or --hostfile (expected one of them)",
                                   *request.nnodes));
    }
    nodes.source = "single node";
    nodes.hosts = {"localhost"};
  }
  if (request.nnodes && *request.nnodes != nodes.nnodes()) {
    throw InputError(fmt::format("--nnodes {} but {} gives {} nodes (expected them to agree)",
                                 *request.nnodes, nodes.source, nodes.nnodes()));
  }
  return nodes;
}

std::optional<std::string> DnsResolver::address_of(const std::string& name, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    why = ::gai_strerror(rc);
    return std::nullopt;
  }
  std::optional<std::string> found;
  for (int family : {AF_INET, AF_INET6}) {
    for (auto* info = list; info != nullptr && !found; info = info->ai_next) {
      if (info->ai_family != family) {
        continue;
      }
      char text[INET6_ADDRSTRLEN];
      const void* address =
          family == AF_INET
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(info->ai_addr)->sin_addr)
              : static_cast<const void*>(
                    &reinterpret_cast<sockaddr_in6*>(info->ai_addr)->sin6_addr);
      if (::inet_ntop(family, address, text, sizeof text) != nullptr) {
        found = text;
      }
    }
  }
  ::freeaddrinfo(list);
  if (!found) {
    why = "no IPv4 or IPv6 address";
  }
  return found;
}

std::optional<std::string> parse_node_addr(std::string_view scontrol_output) {
  std::istringstream words{std::string(scontrol_output)};
  std::string word;
  while (words >> word) {
    if (util::starts_with(word, "NodeAddr=") && word.size() > 9) {
      return word.substr(9);
    }
  }
  return std::nullopt;
}

std::optional<std::string> SlurmNodeAddrResolver::address_of(const std::string& name,
                                                             std::string& why) {
  const auto result =
      util::run_command({"scontrol", "show", "node", name}, std::chrono::seconds(20));
  if (result.exit_code != 0) {
    why = result.exit_code == -1 ? "scontrol did not run or timed out"
                                 : fmt::format("scontrol exited {}", result.exit_code);
    return std::nullopt;
  }
  auto address = parse_node_addr(result.output);
  if (!address) {
    why = "no NodeAddr in its output";
  }
  return address;
}

std::string resolve_node(const std::string& name, const std::vector<NameResolver*>& resolvers,
                         std::string_view hint) {
  std::vector<std::string> reasons;
  for (auto* resolver : resolvers) {
    std::string why;
    if (auto address = resolver->address_of(name, why)) {
      return *address;
    }
    reasons.push_back(fmt::format("{}: {}", resolver->source(), why));
  }
  std::string joined;
  for (const auto& reason : reasons) {
    joined += (joined.empty() ? "" : "; ") + reason;
  }
  throw InputError(fmt::format("node '{}' does not resolve ({}); expected a resolvable name or "
                               "Slurm's NodeAddr{}{}",
                               name, joined, hint.empty() ? "" : ", ", hint));
}

} // namespace brix::launch
