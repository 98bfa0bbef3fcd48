// epoll(7) behind a small class; level-triggered, so a handler may read part of what is ready.
#include <brix/net/poller.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace brix::net {
namespace {

std::uint32_t mask(Poller::Interest interest) {
  return (interest.readable ? EPOLLIN : 0u) | (interest.writable ? EPOLLOUT : 0u) | EPOLLRDHUP;
}

void control(int epoll, int op, int fd, std::uint64_t tag, Poller::Interest interest) {
  epoll_event event{};
  event.events = mask(interest);
  event.data.u64 = tag;
  if (::epoll_ctl(epoll, op, fd, &event) != 0) {
    throw NetError(fmt::format("epoll_ctl: {}", std::strerror(errno)), false);
  }
}

} // namespace

Poller::Poller() : m_epoll(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!m_epoll.valid()) {
    throw NetError(fmt::format("epoll_create1: {}", std::strerror(errno)), false);
  }
}

void Poller::add(int fd, std::uint64_t tag, Interest interest) {
  control(m_epoll.get(), EPOLL_CTL_ADD, fd, tag, interest);
}

void Poller::modify(int fd, std::uint64_t tag, Interest interest) {
  control(m_epoll.get(), EPOLL_CTL_MOD, fd, tag, interest);
}

void Poller::remove(int fd) { (void)::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, fd, nullptr); }

std::span<const Poller::Ready> Poller::wait(int timeout_ms, std::size_t max_events) {
  m_events.resize(std::max<std::size_t>(max_events, 1));
  auto& events = m_events;
  const int count = ::epoll_wait(m_epoll.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
  m_ready.clear();
  if (count < 0) {
    if (errno == EINTR) {
      return {};
    }
    throw NetError(fmt::format("epoll_wait: {}", std::strerror(errno)), false);
  }
  for (int i = 0; i < count; ++i) {
    const auto flags = events[static_cast<std::size_t>(i)].events;
    m_ready.push_back({events[static_cast<std::size_t>(i)].data.u64,
                       (flags & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0,
                       (flags & EPOLLOUT) != 0});
  }
  return m_ready;
}

} // namespace brix::net
