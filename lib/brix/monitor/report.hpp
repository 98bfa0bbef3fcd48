#pragma once
// The worker-side C++ call: brix::monitor::report_step(step, seconds, {{"loss", 2.3}}).
// It sends one line of the progress protocol (report_protocol.hpp) to the socket named by
// BRIX_MONITOR_SOCKET; without that variable it does nothing. It never blocks and never throws:
// monitoring must not slow or break training.

#include <brix/monitor/report_protocol.hpp>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

namespace brix::monitor {

class DatagramSender;

/// Sends reports for one process. The rank comes from RANK (torchrun's variable) unless given.
class Reporter {
public:
  /// A reporter for BRIX_MONITOR_SOCKET / RANK / BRIX_PP_RANK; disabled without a socket.
  [[nodiscard]] static Reporter from_environment();
  Reporter(std::string socket_path, int rank, std::optional<int> stage);
  Reporter(); ///< disabled
  ~Reporter();
  Reporter(Reporter&&) noexcept;
  Reporter& operator=(Reporter&&) noexcept;

  [[nodiscard]] bool enabled() const { return m_sender != nullptr; }
  [[nodiscard]] int rank() const { return m_rank; }
  /// Fills rank and stage when unset; false when not delivered (counted in dropped()).
  bool send(ProgressReport report);
  [[nodiscard]] std::uint64_t dropped() const { return m_dropped; }

private:
  std::unique_ptr<DatagramSender> m_sender;
  int m_rank = 0;
  std::optional<int> m_stage;
  std::uint64_t m_dropped = 0;
};

/// Reports a finished step through the process-wide reporter. `compute_seconds` < 0 means unknown.
bool report_step(std::int64_t step, double step_seconds,
                 std::initializer_list<std::pair<std::string_view, double>> values = {},
                 double compute_seconds = -1.0);

/// A heartbeat (a report without a step), e.g. during a long checkpoint.
bool report_heartbeat();

} // namespace brix::monitor
