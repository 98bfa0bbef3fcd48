#include <brix/launch/log_pump.hpp>

#include <brix/util/error.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>
#include <vector>

namespace brix::launch {
namespace {

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const auto written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written <= 0) {
      return; // a full disk or a closed console must not stop the job
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

} // namespace

LogPump::LogPump() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw JobError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  m_wake_read = fds[0];
  m_wake_write = fds[1];
  m_thread = std::thread([this] { loop(); });
}

LogPump::~LogPump() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  wake();
  m_thread.join();
  for (auto& [fd, source] : m_sources) {
    ::close(fd);
    ::close(source.file_fd);
  }
  ::close(m_wake_read);
  ::close(m_wake_write);
}

void LogPump::wake() {
  const char byte = 1;
  [[maybe_unused]] const auto ignored = ::write(m_wake_write, &byte, 1);
}

std::uint64_t LogPump::add(int pipe_fd, const std::string& file, std::string prefix, int console_fd) {
  const int file_fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (file_fd < 0) {
    ::close(pipe_fd);
    throw JobError(fmt::format("cannot write log {}: {}", file, std::strerror(errno)));
  }
  std::uint64_t id = 0;
  {
    std::lock_guard lock(m_mutex);
    id = m_next_id++;
    m_sources[pipe_fd] = Source{id, file_fd, console_fd, std::move(prefix), {}};
  }
  wake();
  return id;
}

void LogPump::emit(Source& source, const char* data, std::size_t size, bool flush) {
  write_all(source.file_fd, data, size);
  if (source.console_fd < 0) {
    return;
  }
  source.partial.append(data, size);
  std::string lines;
  std::size_t start = 0;
  while (true) {
    const auto newline = source.partial.find('\n', start);
    if (newline == std::string::npos) {
      break;
    }
    lines += source.prefix;
    lines.append(source.partial, start, newline - start + 1);
    start = newline + 1;
  }
  source.partial.erase(0, start);
  if (flush && !source.partial.empty()) {
    lines += source.prefix + source.partial + "\n";
    source.partial.clear();
  }
  // One write per batch of whole lines keeps ranks from interleaving within a line.
  write_all(source.console_fd, lines.data(), lines.size());
}

void LogPump::close_source(int pipe_fd) {
  auto found = m_sources.find(pipe_fd);
  emit(found->second, "", 0, true);
  ::close(found->second.file_fd);
  ::close(pipe_fd);
  m_sources.erase(found);
  m_closed.notify_all();
}

void LogPump::loop() {
  std::vector<pollfd> polled;
  std::vector<char> buffer(1 << 16);
  while (true) {
    polled.clear();
    polled.push_back({m_wake_read, POLLIN, 0});
    {
      std::lock_guard lock(m_mutex);
      if (m_stop) {
        return;
      }
      for (const auto& entry : m_sources) {
        polled.push_back({entry.first, POLLIN, 0});
      }
    }
    if (::poll(polled.data(), polled.size(), -1) < 0 && errno != EINTR) {
      return;
    }
    if (polled[0].revents != 0) {
      char drain[256];
      while (::read(m_wake_read, drain, sizeof drain) > 0) {
      }
    }
    std::lock_guard lock(m_mutex);
    for (std::size_t i = 1; i < polled.size(); ++i) {
      if (polled[i].revents == 0 || !m_sources.contains(polled[i].fd)) {
        continue;
      }
      const auto got = ::read(polled[i].fd, buffer.data(), buffer.size());
      if (got > 0) {
        emit(m_sources.at(polled[i].fd), buffer.data(), static_cast<std::size_t>(got), false);
      } else if (got == 0 || errno != EINTR) {
        close_source(polled[i].fd);
      }
    }
  }
}

bool LogPump::wait_eof(std::uint64_t id, std::chrono::milliseconds timeout) {
  // By id, not fd: a pipe closed early may have lent its fd number to a later worker's pipe.
  std::unique_lock lock(m_mutex);
  return m_closed.wait_for(lock, timeout, [&] {
    return std::none_of(m_sources.begin(), m_sources.end(),
                        [&](const auto& entry) { return entry.second.id == id; });
  });
}

void LogPump::drain(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(m_mutex);
      if (m_sources.empty()) {
        return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard lock(m_mutex);
  while (!m_sources.empty()) {
    close_source(m_sources.begin()->first);
  }
  wake();
}

} // namespace brix::launch
