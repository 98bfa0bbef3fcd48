#include <brix/launch/job_channel.hpp>

#include <fmt/format.h>
#include <unordered_set>

namespace brix::launch {

StopWatcher::StopWatcher(net::StoreClient& store, std::string key) {
  m_thread = std::thread([this, &store, key = std::move(key)] {
    try {
      // One-second steps, so that a watcher whose key never comes still ends soon after its
      // channel does (the supervisor adopts a stop in every normal ending, so it rarely waits).
      while (!m_stopping && !store.wait({key}, std::chrono::seconds(1))) {
      }
    } catch (const net::NetError&) {
      // The store is gone: poll() finds out and reports it.
    }
    m_fired = true;
    m_ready.notify();
  });
}

StopWatcher::~StopWatcher() {
  m_stopping = true;
  m_thread.join();
}

StoreJobChannel::StoreJobChannel(net::StoreClient& store, const World& world, int node_rank,
                                 JobChannelOptions options, util::Clock& clock, net::StoreClient* watch)
    : m_store(store), m_world(world), m_node_rank(node_rank), m_options(options), m_clock(clock),
      m_next_beat(clock.now()) {
  if (node_rank == 0) {
    m_liveness.resize(world.nodes.size(), Liveness{"", clock.now()});
  }
  if (watch != nullptr && watch->connected()) {
    m_watcher = std::make_unique<StopWatcher>(*watch, key("stop"));
  }
}

std::string StoreJobChannel::key(const std::string& name) const {
  return fmt::format("job/{}/{}", m_world.attempt, name);
}

bool replaces_stop(const StopRecord& candidate, const StopRecord& posted) {
  return candidate.kind == StopKind::failed && posted.kind == StopKind::failed &&
         candidate.time < posted.time;
}

StopRecord StoreJobChannel::post_stop(const StopRecord& record) {
  const auto mine = record.to_json().dump();
  std::string expected; // a missing key compares equal to ""
  while (true) {
    const auto result = m_store.compare_set(key("stop"), expected, mine);
    if (result.swapped) {
      return record;
    }
    auto posted = StopRecord::from_json(nlohmann::json::parse(result.value));
    if (!replaces_stop(record, posted)) {
      return posted;
    }
    expected = result.value; // another agent may replace it meanwhile: compare again
  }
}

void StoreJobChannel::report_success() {
  const auto done = m_store.add(key("succeeded"), 1);
  if (done == static_cast<std::int64_t>(m_world.nodes.size())) {
    StopRecord record;
    record.kind = StopKind::done;
    record.node_rank = m_node_rank;
    record.node = m_world.nodes.at(m_node_rank).node;
    record.time = util::unix_seconds();
    (void)post_stop(record);
  }
}

std::optional<StopRecord> StoreJobChannel::poll() {
  const auto now = m_clock.now();
  bool beat = false;
  if (now >= m_next_beat) {
    beat = true;
    m_next_beat = now + m_options.beat_interval;
    (void)m_store.add(key(fmt::format("beat/{}", m_node_rank)), 1);
    if (m_node_rank == 0) {
      check_liveness(now);
    }
  }
  // With a watcher, the stop key is read when it fired (and with each heartbeat, in case):
  // thousands of agents do not ask node 0 for it every interval.
  if (m_watcher && !m_watcher->fired() && !beat) {
    return std::nullopt;
  }
  if (const auto posted = m_store.get(key("stop"))) {
    return StopRecord::from_json(nlohmann::json::parse(*posted));
  }
  return std::nullopt;
}

StopRecord StoreJobChannel::settle(const StopRecord& adopted, std::chrono::milliseconds timeout) {
  m_store.set(key(fmt::format("settled/{}", m_node_rank)), "1");
  std::vector<std::string> keys;
  for (std::size_t node = 0; node < m_world.nodes.size(); ++node) {
    keys.push_back(key(fmt::format("settled/{}", node)));
  }
  (void)m_store.wait(keys, timeout); // a node lost meanwhile: what is posted by then
  if (const auto posted = m_store.get(key("stop"))) {
    return StopRecord::from_json(nlohmann::json::parse(*posted));
  }
  return adopted;
}

void StoreJobChannel::check_liveness(util::Clock::TimePoint now) {
  if (m_liveness.size() <= 1) {
    return;
  }
  // Two round trips for every node's heartbeat, not one per node (2,048 at scale).
  std::vector<std::string> keys;
  for (std::size_t node = 0; node < m_liveness.size(); ++node) {
    keys.push_back(key(fmt::format("beat/{}", node)));
  }
  const auto missing_list = m_store.missing(keys);
  const std::unordered_set<std::string> missing(missing_list.begin(), missing_list.end());
  std::vector<std::string> present;
  std::vector<std::size_t> present_nodes;
  for (std::size_t node = 1; node < keys.size(); ++node) {
    if (!missing.contains(keys[node])) {
      present.push_back(keys[node]);
      present_nodes.push_back(node);
    }
  }
  std::vector<std::string> beats(keys.size());
  if (const auto values = present.empty() ? std::optional<std::vector<std::string>>() : m_store.get_many(present)) {
    for (std::size_t i = 0; i < present_nodes.size(); ++i) {
      beats[present_nodes[i]] = (*values)[i];
    }
  }
  for (std::size_t node = 1; node < m_liveness.size(); ++node) {
    const auto& beat = beats[node];
    auto& seen = m_liveness[node];
    if (beat != seen.last_beat) {
      seen = {beat, now};
      continue;
    }
    if (now - seen.changed > m_options.agent_timeout) {
      StopRecord record;
      record.kind = StopKind::lost;
      record.node_rank = static_cast<int>(node);
      record.node = m_world.nodes.at(node).node;
      record.time = util::unix_seconds();
      record.message = fmt::format(
          "its agent sent no heartbeat for {} s",
          std::chrono::duration_cast<std::chrono::seconds>(m_options.agent_timeout).count());
      (void)post_stop(record);
      return;
    }
  }
}

} // namespace brix::launch
