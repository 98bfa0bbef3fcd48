#pragma once
// Unix datagram sockets for progress reports: workers send without blocking (a full queue drops
// the report rather than slowing training); the collector learns each sender's pid from the
// kernel (SO_PASSCRED), so it needs no rank-to-pid table to sample /proc.

#include <optional>
#include <string>

namespace brix::monitor {

struct Datagram {
  std::string text;
  int pid = 0; ///< sender's pid as the kernel saw it (0 when unknown)
};

/// The collector's bound socket. Binding removes a stale socket file first; the destructor
/// removes the file.
class DatagramReceiver {
public:
  /// Throws JobError when the socket cannot be bound (path too long, directory missing, ...).
  explicit DatagramReceiver(std::string path);
  ~DatagramReceiver();
  DatagramReceiver(const DatagramReceiver&) = delete;
  DatagramReceiver& operator=(const DatagramReceiver&) = delete;

  /// Waits up to `timeout_ms` (0 = poll) for one datagram; nullopt at once when `wake_fd`
  /// (-1: none) becomes readable first.
  [[nodiscard]] std::optional<Datagram> receive(int timeout_ms, int wake_fd = -1);
  [[nodiscard]] const std::string& path() const { return m_path; }
  [[nodiscard]] int fd() const { return m_fd; }

private:
  std::string m_path;
  int m_fd = -1;
};

/// A worker's sending side; never throws after construction, and waits at most
/// k_full_queue_wait_ms when the collector's queue is full (then the report is dropped).
class DatagramSender {
public:
  /// Throws JobError when `path` is too long for a Unix socket address.
  explicit DatagramSender(std::string path);
  ~DatagramSender();
  DatagramSender(const DatagramSender&) = delete;
  DatagramSender& operator=(const DatagramSender&) = delete;

  static constexpr int k_full_queue_wait_ms = 1;

  /// False when the datagram was not delivered (no collector, queue still full).
  bool send(std::string_view text);

private:
  bool connect_to_collector();

  std::string m_path;
  int m_fd = -1;
  bool m_connected = false;
};

} // namespace brix::monitor
