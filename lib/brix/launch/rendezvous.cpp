#include <brix/launch/rendezvous.hpp>

#include <brix/util/error.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace brix::launch {

nlohmann::json AgentInfo::to_json() const {
  return {{"node_rank", node_rank}, {"node", node},     {"address", address},
          {"nproc", nproc},         {"nnodes", nnodes}};
}

AgentInfo AgentInfo::from_json(const nlohmann::json& json) {
  return {json.at("node_rank").get<int>(), json.at("node").get<std::string>(),
          json.at("address").get<std::string>(), json.at("nproc").get<int>(),
          json.at("nnodes").get<int>()};
}

int World::world_size() const { return first_rank(static_cast<int>(nodes.size())); }

int World::first_rank(int node_rank) const {
  int rank = 0;
  for (int i = 0; i < node_rank; ++i) {
    rank += nodes.at(i).nproc;
  }
  return rank;
}

nlohmann::json World::to_json() const {
  auto list = nlohmann::json::array();
  for (const auto& node : nodes) {
    list.push_back(node.to_json());
  }
  return {{"attempt", attempt},
          {"run_id", run_id},
          {"master_addr", master_addr},
          {"master_port", master_port},
          {"nodes", list}};
}

World World::from_json(const nlohmann::json& json) {
  World world;
  world.attempt = json.at("attempt").get<int>();
  world.run_id = json.at("run_id").get<std::string>();
  world.master_addr = json.at("master_addr").get<std::string>();
  world.master_port = json.at("master_port").get<int>();
  for (const auto& node : json.at("nodes")) {
    world.nodes.push_back(AgentInfo::from_json(node));
  }
  return world;
}

std::string rendezvous_key(int attempt, const std::string& name) {
  return fmt::format("rdzv/{}/{}", attempt, name);
}

namespace {

std::string node_key(int attempt, int node_rank) {
  return rendezvous_key(attempt, fmt::format("node/{}", node_rank));
}

/// "n3 (node rank 2), n4 (node rank 3)" for the node keys still missing.
std::string describe_missing(net::StoreClient& store, int attempt,
                             const RendezvousOptions& options, std::size_t& count) {
  std::vector<std::string> keys;
  for (int rank = 0; rank < options.nnodes; ++rank) {
    keys.push_back(node_key(attempt, rank));
  }
  const auto missing = store.missing(keys);
  count = missing.size();
  std::string text;
  for (const auto& key : missing) {
    const int rank = std::stoi(key.substr(key.rfind('/') + 1));
    const auto name = rank < static_cast<int>(options.hosts.size())
                          ? options.hosts[rank]
                          : fmt::format("node {}", rank);
    if (!text.empty()) {
      text += ", ";
    }
    if (text.size() > 400) {
      text += "...";
      break;
    }
    text += fmt::format("{} (node rank {})", name, rank);
  }
  return text;
}

/// store.wait in one-second steps, so that a signal can end the wait.
bool wait_interruptible(net::StoreClient& store, const std::vector<std::string>& keys,
                        std::chrono::milliseconds timeout, const RendezvousOptions& options) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    if (store.wait(keys, std::min<std::chrono::milliseconds>(left, std::chrono::seconds(1)))) {
      return true;
    }
    if (options.check_interrupt) {
      options.check_interrupt();
    }
  }
}

} // namespace

World join_rendezvous(net::StoreClient& store, const AgentInfo& me, int attempt,
                      const RendezvousOptions& options) {
  const auto claim = store.compare_set(node_key(attempt, me.node_rank), "", me.to_json().dump());
  if (!claim.swapped) {
    const auto other = AgentInfo::from_json(nlohmann::json::parse(claim.value));
    throw InputError(fmt::format("node rank {} joined the rendezvous twice: by {} ({}) and by {} "
                                 "({}) (expected one agent per node rank)",
                                 me.node_rank, other.node, other.address, me.node, me.address));
  }
  const auto world_key = rendezvous_key(attempt, "world");
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(options.timeout).count();

  if (me.node_rank == 0) {
    std::vector<std::string> keys;
    for (int rank = 0; rank < options.nnodes; ++rank) {
      keys.push_back(node_key(attempt, rank));
    }
    if (!wait_interruptible(store, keys, options.timeout, options)) {
      std::size_t count = 0;
      const auto names = describe_missing(store, attempt, options, count);
      const auto message = fmt::format("rendezvous (attempt {}) timed out after {} s: {} of {} "
                                       "nodes did not join: {}",
                                       attempt, seconds, count, options.nnodes, names);
      store.set(world_key, nlohmann::json{{"error", message}}.dump());
      throw JobError(message);
    }
    World world;
    world.attempt = attempt;
    world.run_id = options.run_id;
    world.master_addr = options.master_addr;
    world.master_port = options.master_port;
    for (int rank = 0; rank < options.nnodes; ++rank) {
      auto info = AgentInfo::from_json(nlohmann::json::parse(*store.get(keys[rank])));
      if (info.nnodes != options.nnodes) {
        const auto message =
            fmt::format("node {} (node rank {}) expects {} nodes but node 0 expects {} (expected "
                        "the same node list on every node)",
                        info.node, rank, info.nnodes, options.nnodes);
        store.set(world_key, nlohmann::json{{"error", message}}.dump());
        throw InputError(message);
      }
      world.nodes.push_back(std::move(info));
    }
    store.set(world_key, world.to_json().dump());
    return world;
  }

  // Node 0 reports missing nodes itself; wait a little longer than it does.
  if (!wait_interruptible(store, {world_key}, options.timeout + std::chrono::seconds(5),
                          options)) {
    std::size_t count = 0;
    const auto names = describe_missing(store, attempt, options, count);
    throw JobError(fmt::format("rendezvous (attempt {}) timed out after {} s waiting for node 0 "
                               "to publish the world; not joined: {}",
                               attempt, seconds, names.empty() ? "none" : names));
  }
  const auto json = nlohmann::json::parse(*store.get(world_key));
  if (json.contains("error")) {
    throw JobError(json["error"].get<std::string>());
  }
  return World::from_json(json);
}

} // namespace brix::launch
