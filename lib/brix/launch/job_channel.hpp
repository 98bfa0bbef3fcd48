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
#include <brix/util/wakeup.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
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
  /// Called every monitor interval and when wake_fd() is readable: heartbeats, liveness checks;
  /// the posted record, if any.
  [[nodiscard]] virtual std::optional<StopRecord> poll() = 0;
  /// Readable once a record may have been posted (-1: none; then only the interval's poll tells):
  /// the supervisor waits on it with its workers, so a stop posted anywhere ends the attempt at
  /// once, not at the next tick.
  [[nodiscard]] virtual int wake_fd() const { return -1; }
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

/// Waits for job/<attempt>/stop on a store connection of its own, in a thread, and makes fd()
/// readable once the key exists (or the connection failed, which poll() then reports).
class StopWatcher {
public:
  StopWatcher(net::StoreClient& store, std::string key);
  ~StopWatcher();
  StopWatcher(const StopWatcher&) = delete;
  StopWatcher& operator=(const StopWatcher&) = delete;
  [[nodiscard]] int fd() const { return m_ready.fd(); }
  [[nodiscard]] bool fired() const { return m_fired.load(); }

private:
  util::Wakeup m_ready;
  std::atomic<bool> m_fired{false};
  std::atomic<bool> m_stopping{false};
  std::thread m_thread;
};

class StoreJobChannel final : public JobChannel {
public:
  /// `watch`, when given, is a second connection to the store used only to watch for a stop
  /// (one client serves one thread at a time); without it a stop is seen at the next poll.
  StoreJobChannel(net::StoreClient& store, const World& world, int node_rank,
                  JobChannelOptions options, util::Clock& clock = util::system_clock(),
                  net::StoreClient* watch = nullptr);
  StopRecord post_stop(const StopRecord& record) override;
  void report_success() override;
  std::optional<StopRecord> poll() override;
  StopRecord settle(const StopRecord& adopted, std::chrono::milliseconds timeout) override;
  int wake_fd() const override { return m_watcher ? m_watcher->fd() : -1; }

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
  std::unique_ptr<StopWatcher> m_watcher;
};

} // namespace brix::launch
