#pragma once
// epoll(7) for servers that hold thousands of connections (node 0's rendezvous store, the job's
// monitor endpoint): a wait costs the ready descriptors, where poll(2) rebuilds and scans every
// descriptor on every call (at 2,048 collectors sending once a second, that scan was the loop).

#include <brix/net/socket.hpp>

#include <cstdint>
#include <span>
#include <sys/epoll.h>
#include <vector>

namespace brix::net {

/// What a descriptor is watched for.
struct PollInterest {
  bool readable = true;
  bool writable = false;
};

class Poller {
public:
  using Interest = PollInterest;
  /// Throws NetError when the kernel refuses an epoll instance.
  Poller();

  /// Watches `fd`; its events come back with `tag`. A peer's hang-up is always reported.
  void add(int fd, std::uint64_t tag, Interest interest = {});
  void modify(int fd, std::uint64_t tag, Interest interest);
  /// Stops watching `fd` (also implicit when the descriptor is closed).
  void remove(int fd);

  struct Ready {
    std::uint64_t tag = 0;
    bool readable = false; ///< also set on hang-up and error: the next read says which
    bool writable = false;
  };
  /// Waits up to `timeout_ms` (-1: no limit) for at most `max_events` ready descriptors.
  /// EINTR returns an empty list.
  [[nodiscard]] std::span<const Ready> wait(int timeout_ms, std::size_t max_events = 512);

private:
  Fd m_epoll;
  std::vector<epoll_event> m_events; ///< reused between waits
  std::vector<Ready> m_ready;
};

} // namespace brix::net
