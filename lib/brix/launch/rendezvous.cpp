#include <brix/launch/rendezvous.hpp>

#include <brix/util/error.hpp>

#include <algorithm>
#include <charconv>
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

std::string World::encode() const {
  std::string text = fmt::format("attempt\t{}\nrun_id\t{}\nmaster_addr\t{}\nmaster_port\t{}\n",
                                 attempt, run_id, master_addr, master_port);
  for (const auto& node : nodes) {
    text += fmt::format("node\t{}\t{}\t{}\t{}\t{}\n", node.node_rank, node.nproc, node.nnodes,
                        node.node, node.address);
  }
  return text;
}

World World::decode(std::string_view text) {
  World world;
  auto number = [](std::string_view field) {
    int value = 0;
    const auto result = std::from_chars(field.data(), field.data() + field.size(), value);
    if (result.ec != std::errc() || result.ptr != field.data() + field.size()) {
      throw JobError(fmt::format("malformed world from node 0: '{}' is not a number", field));
    }
    return value;
  };
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    std::vector<std::string_view> fields;
    for (std::size_t start = 0;;) {
      const auto tab = line.find('\t', start);
      fields.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
      if (tab == std::string_view::npos) {
        break;
      }
      start = tab + 1;
    }
    const auto key = fields[0];
    if (key == "error" && fields.size() >= 2) {
      throw JobError(std::string(line.substr(6)));
    }
    if (key == "node" && fields.size() == 6) {
      world.nodes.push_back({number(fields[1]), std::string(fields[4]), std::string(fields[5]),
                             number(fields[2]), number(fields[3])});
    } else if (fields.size() == 2 && key == "attempt") {
      world.attempt = number(fields[1]);
    } else if (fields.size() == 2 && key == "run_id") {
      world.run_id = fields[1];
    } else if (fields.size() == 2 && key == "master_addr") {
      world.master_addr = fields[1];
    } else if (fields.size() == 2 && key == "master_port") {
      world.master_port = number(fields[1]);
    } else if (!line.empty()) {
      throw JobError(fmt::format("malformed world from node 0: '{}'", line));
    }
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
      store.set(world_key, "error\t" + message);
      throw JobError(message);
    }
    World world;
    world.attempt = attempt;
    world.run_id = options.run_id;
    world.master_addr = options.master_addr;
    world.master_port = options.master_port;
    const auto infos = store.get_many(keys);
    if (!infos) {
      throw JobError(fmt::format("rendezvous (attempt {}): a node's entry vanished", attempt));
    }
    for (int rank = 0; rank < options.nnodes; ++rank) {
      auto info = AgentInfo::from_json(nlohmann::json::parse((*infos)[rank]));
      if (info.nnodes != options.nnodes) {
        const auto message =
            fmt::format("node {} (node rank {}) expects {} nodes but node 0 expects {} (expected "
                        "the same node list on every node)",
                        info.node, rank, info.nnodes, options.nnodes);
        store.set(world_key, "error\t" + message);
        throw InputError(message);
      }
      world.nodes.push_back(std::move(info));
    }
    store.set(world_key, world.encode());
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
  return World::decode(*store.get(world_key));
}

} // namespace brix::launch
