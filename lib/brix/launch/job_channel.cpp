#include <brix/launch/job_channel.hpp>

#include <fmt/format.h>

namespace brix::launch {

StoreJobChannel::StoreJobChannel(net::StoreClient& store, const World& world, int node_rank,
                                 JobChannelOptions options, util::Clock& clock)
    : m_store(store), m_world(world), m_node_rank(node_rank), m_options(options), m_clock(clock),
      m_next_beat(clock.now()) {
  if (node_rank == 0) {
    m_liveness.resize(world.nodes.size(), Liveness{"", clock.now()});
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
  if (now >= m_next_beat) {
    m_next_beat = now + m_options.beat_interval;
    (void)m_store.add(key(fmt::format("beat/{}", m_node_rank)), 1);
    if (m_node_rank == 0) {
      check_liveness(now);
    }
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
  for (std::size_t node = 1; node < m_liveness.size(); ++node) {
    const auto beat = m_store.get(key(fmt::format("beat/{}", node))).value_or("");
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
