#pragma once
// How the agents of one attempt tell each other that it is over. Keys in the store:
//   job/<attempt>/stop        the StopRecord in force: the first one posted, except that an
//                             earlier failure (by StopRecord::time) replaces a later one
//   job/<attempt>/succeeded   nodes whose workers all exited 0; the last one posts `done`
//   job/<attempt>/beat/<n>    heartbeat counter of node n; node 0 posts `lost` for a silent node
//   job/<attempt>/settled/<n> node n's workers are all gone after a failure

#include <brix/launch/rendezvous.hpp>
#include <brix/launch/stop_record.hpp>
#include <brix/net/store_client.hpp>
#include <brix/util/clock.hpp>

#include <chrono>
#include <optional>
#include <vector>

namespace brix::launch {

class JobChannel {
public:
  virtual ~JobChannel() = default;
  /// Posts `record` unless one is already posted (or, for a failure, unless an equally early or
  /// earlier failure is posted); returns the record in force.
  virtual StopRecord post_stop(const StopRecord& record) = 0;
  /// Every local worker exited 0. The last node to report posts `done`.
  virtual void report_success() = 0;
  /// Called every monitor interval: heartbeats, liveness checks; the posted record, if any.
  [[nodiscard]] virtual std::optional<StopRecord> poll() = 0;
  /// Called after a failure once this node's workers are all gone: says so, waits (at most
  /// `timeout`) until every node has, so that every failure of the attempt is posted, and
  /// returns the record then in force (`adopted` when none is readable).
  [[nodiscard]] virtual StopRecord settle(const StopRecord& adopted,
                                          std::chrono::milliseconds timeout) = 0;
};

struct JobChannelOptions {
  /// A node whose heartbeat does not move for this long is lost.
  std::chrono::milliseconds agent_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds beat_interval{std::chrono::seconds(2)};
};

/// Whether failure `candidate` replaces the posted record: both failures, the candidate earlier
/// (error-file timestamp when the worker wrote one, else its exit time). Agents post failures
/// as their workers are reaped, so the first posted need not be the first that happened.
[[nodiscard]] bool replaces_stop(const StopRecord& candidate, const StopRecord& posted);

class StoreJobChannel final : public JobChannel {
public:
  StoreJobChannel(net::StoreClient& store, const World& world, int node_rank,
                  JobChannelOptions options, util::Clock& clock = util::system_clock());
  StopRecord post_stop(const StopRecord& record) override;
  void report_success() override;
  std::optional<StopRecord> poll() override;
  StopRecord settle(const StopRecord& adopted, std::chrono::milliseconds timeout) override;

private:
  [[nodiscard]] std::string key(const std::string& name) const;
  void check_liveness(util::Clock::TimePoint now);

  net::StoreClient& m_store;
  const World& m_world;
  int m_node_rank;
  JobChannelOptions m_options;
  util::Clock& m_clock;
  util::Clock::TimePoint m_next_beat;
  struct Liveness {
    std::string last_beat;
    util::Clock::TimePoint changed;
  };
  std::vector<Liveness> m_liveness; ///< node 0 only
};

} // namespace brix::launch
