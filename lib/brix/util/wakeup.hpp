#pragma once
// A descriptor that another thread makes readable: a loop blocked in poll/epoll on its sockets
// also watches this, so that stop() or new work ends the wait at once instead of at the next
// timeout (a timeout per loop was the floor of every `brix launch`: 0.2 s per thread to stop).

namespace brix::util {

class Wakeup {
public:
  /// Throws JobError when the kernel refuses an eventfd.
  Wakeup();
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  /// Makes fd() readable (from any thread; async-signal-safe).
  void notify() const;
  /// Makes fd() unreadable again; true when it had been notified.
  bool clear() const;
  /// For poll(2)/epoll: readable once notified, until cleared.
  [[nodiscard]] int fd() const { return m_fd; }

private:
  int m_fd = -1;
};

} // namespace brix::util
