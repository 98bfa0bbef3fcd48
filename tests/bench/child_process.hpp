#pragma once
// For benchmarks that measure a server in a process of its own (node 0's store, the monitor
// endpoint), so that its CPU time and memory are its own: start a program with its standard
// output on a pipe, read its lines, wait for it, and read its CPU time and resident memory from
// /proc while it runs. Header-only; benchmarks are separate programs.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace brix::bench {

class ChildProcess {
public:
  /// Starts argv[0] (a path, or a name on PATH); its stderr is this process's.
  explicit ChildProcess(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& arg : argv) {
      args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      return;
    }
    m_pid = ::fork();
    if (m_pid == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    m_out = out[0];
  }
  ~ChildProcess() {
    if (m_pid > 0 && !m_status) {
      ::kill(m_pid, SIGKILL);
      (void)wait(std::chrono::seconds(10));
    }
    if (m_out >= 0) {
      ::close(m_out);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  [[nodiscard]] int pid() const { return m_pid; }

  /// Its next line of output; nullopt at the end of its output or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (const auto newline = m_buffer.find('\n'); newline != std::string::npos) {
        auto line = m_buffer.substr(0, newline);
        m_buffer.erase(0, newline + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd entry{m_out, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&entry, 1, static_cast<int>(left.count())) <= 0) {
        return std::nullopt;
      }
      char chunk[4096];
      const auto got = ::read(m_out, chunk, sizeof chunk);
      if (got <= 0) {
        return std::nullopt;
      }
      m_buffer.append(chunk, static_cast<std::size_t>(got));
    }
  }

  /// Its exit code once it has exited (128 + signal when killed); nullopt after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!m_status) {
      int status = 0;
      const pid_t done = ::waitpid(m_pid, &status, WNOHANG);
      if (done == m_pid) {
        m_status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      } else if (done < 0 && errno != EINTR) {
        m_status = -1;
      } else if (std::chrono::steady_clock::now() >= deadline) {
        return std::nullopt;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    return m_status;
  }

  void signal(int number) const { ::kill(m_pid, number); }

  /// User + system CPU seconds so far (/proc/PID/stat).
  [[nodiscard]] double cpu_seconds() const {
    std::ifstream in("/proc/" + std::to_string(m_pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) {
      return 0;
    }
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    double ticks = 0;
    for (int index = 3; fields >> field && index <= 15; ++index) {
      if (index == 14 || index == 15) { // utime, stime
        ticks += std::stod(field);
      }
    }
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  /// Resident memory now and at its peak, MiB (/proc/PID/status VmRSS, VmHWM).
  [[nodiscard]] double resident_mib() const { return status_kib("VmRSS:") / 1024.0; }
  [[nodiscard]] double peak_resident_mib() const { return status_kib("VmHWM:") / 1024.0; }

private:
  [[nodiscard]] double status_kib(const std::string& key) const {
    std::ifstream in("/proc/" + std::to_string(m_pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(key, 0) == 0) {
        return std::stod(line.substr(key.size()));
      }
    }
    return 0;
  }

  int m_pid = -1;
  int m_out = -1;
  std::string m_buffer;
  std::optional<int> m_status;
};

/// The q-quantile (0..1) of `values` by nearest rank; 0 for none.
inline double quantile(std::vector<double> values, double q) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

} // namespace brix::bench
