#pragma once
// Copies each worker's stdout/stderr pipe to its log file (LOG_DIR/attempt_N/rank_R.{out,err})
// and, line by line with a "[rank R] " prefix, to the agent's own stdout/stderr. One thread and
// one poll(2) for all pipes of the node.

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace brix::launch {

class LogPump {
public:
  LogPump();
  ~LogPump();
  LogPump(const LogPump&) = delete;
  LogPump& operator=(const LogPump&) = delete;

  /// Takes ownership of `pipe_fd`; appends to `file`; copies lines to `console_fd` (-1 = none).
  /// Returns the source's id for wait_eof.
  std::uint64_t add(int pipe_fd, const std::string& file, std::string prefix, int console_fd);
  /// Waits until the source `id` (from add) has reached end of file and everything read from it
  /// is in its log file, at most `timeout`; false when it has not. A worker's failure report
  /// reads the tail of its stderr log only after this.
  bool wait_eof(std::uint64_t id, std::chrono::milliseconds timeout);
  /// Waits until every pipe has reached end of file, at most `timeout` (a grandchild may hold a
  /// pipe open); then closes them all.
  void drain(std::chrono::milliseconds timeout);

private:
  struct Source {
    std::uint64_t id = 0;
    int file_fd = -1;
    int console_fd = -1;
    std::string prefix;
    std::string partial; ///< console text after the last newline
  };
  void loop();
  void wake();
  void emit(Source& source, const char* data, std::size_t size, bool flush);
  void close_source(int pipe_fd);

  std::mutex m_mutex;
  std::condition_variable m_closed; ///< a source reached end of file
  std::map<int, Source> m_sources; ///< by pipe fd
  std::uint64_t m_next_id = 1;
  int m_wake_read = -1;
  int m_wake_write = -1;
  bool m_stop = false;
  std::thread m_thread;
};

} // namespace brix::launch
