#pragma once
// The job's event log: one JSON object per line in JOB_DIR/events.jsonl. Launch appends joins,
// exits and restarts; the monitor appends threshold crossings, stragglers and change points;
// recover reads it all back. Appends from several processes do not interleave (O_APPEND, one
// write per line); a line torn by a crash at the end of the file is skipped when reading.
//
// Line: {"time": <unix s>, "type": "<type>", "node": "<host>", "rank": <n>, "message": "...",
//        <details...>} — "node", "rank" and details are present only when known.

#include <nlohmann/json.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brix::monitor {

/// Event types written by brix (other writers may add their own).
namespace event_type {
inline constexpr std::string_view join = "join";             ///< a rank or node joined
inline constexpr std::string_view exit = "exit";             ///< a rank exited (code or signal)
inline constexpr std::string_view restart = "restart";       ///< the job restarted its workers
inline constexpr std::string_view threshold = "threshold";   ///< a rule changed state
inline constexpr std::string_view straggler = "straggler";   ///< a rank flagged or cleared
inline constexpr std::string_view change_point = "change_point"; ///< step time level shifted
inline constexpr std::string_view periodic = "periodic_slowdown"; ///< slowdowns recur
inline constexpr std::string_view suspect = "suspect";       ///< a node marked suspect
inline constexpr std::string_view heartbeat_lost = "heartbeat_lost"; ///< a rank went silent
inline constexpr std::string_view heartbeat_resumed = "heartbeat_resumed"; ///< it reports again
inline constexpr std::string_view auth_refused = "auth_refused"; ///< a peer had the wrong token
inline constexpr std::string_view monitor_start = "monitor_start";
} // namespace event_type

struct Event {
  double time = 0;
  std::string type;
  std::string node;          ///< empty when not about one node
  std::optional<int> rank;   ///< global rank when about one rank
  std::string message;       ///< one human-readable line
  nlohmann::ordered_json details = nlohmann::ordered_json::object(); ///< type-specific fields
};

/// A rank's exit: `exit_code` for a normal exit, `signal` when killed (exactly one is set).
[[nodiscard]] Event make_exit_event(double time, std::string node, int rank,
                                    std::optional<int> exit_code, std::optional<int> signal);

/// "SIGKILL" for 9; "signal N" for unknown numbers.
[[nodiscard]] std::string signal_name(int signal);

[[nodiscard]] std::string to_json_line(const Event& event);
/// Parses one line; `file`/`line` locate errors.
[[nodiscard]] Event parse_event_line(std::string_view text, std::string_view file, int line);

/// Appends events to a log file, creating it; safe to share between threads.
class EventLog {
public:
  explicit EventLog(std::string path);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  /// Throws JobError when the line cannot be written.
  void append(const Event& event);
  [[nodiscard]] const std::string& path() const { return m_path; }

private:
  std::string m_path;
  int m_fd = -1;
  std::mutex m_mutex;
};

/// Reads every complete event of a log (a missing file is an empty log). Malformed complete lines
/// are InputErrors with file:line.
[[nodiscard]] std::vector<Event> read_events(const std::string& path);

/// Reads the events that follow byte `offset` (for tailing); updates `offset` past the last
/// complete line.
[[nodiscard]] std::vector<Event> read_events_from(const std::string& path, std::uint64_t& offset);

} // namespace brix::monitor
