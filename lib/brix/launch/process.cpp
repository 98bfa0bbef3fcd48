#include <brix/launch/process.hpp>

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace brix::launch {
namespace {

constexpr int k_mpol_preferred = 1; // <numaif.h> MPOL_PREFERRED, without needing libnuma

sigset_t agent_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (const int signal : k_forwarded_signals) {
    sigaddset(&set, signal);
  }
  return set;
}

/// Writes a message to stderr from the child between fork and exec (async-signal-safe).
void child_error(const char* what, const char* detail) {
  const char* parts[] = {"brix launch: worker: ", what, detail, "\n"};
  for (const char* part : parts) {
    [[maybe_unused]] const auto ignored = ::write(STDERR_FILENO, part, std::strlen(part));
  }
}

/// The guard: reads "+pid"/"-pid" lines (process groups to kill / forget) until the agent's end
/// of the pipe closes, then SIGKILLs the groups left. Runs in a forked child of a process that
/// has no threads yet.
[[noreturn]] void run_guard(int pipe_fd) {
  for (const int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE}) {
    ::signal(signal, SIG_IGN); // only the agent's death ends the guard
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_NAME, "brix-guard");
  std::vector<int> groups;
  std::string pending;
  char buffer[4096];
  while (true) {
    const auto got = ::read(pipe_fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      break;
    }
    pending.append(buffer, static_cast<std::size_t>(got));
    std::size_t newline = 0;
    while ((newline = pending.find('\n')) != std::string::npos) {
      const auto line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      const auto pid = line.size() > 1 ? util::parse_int(line.substr(1)) : std::nullopt;
      if (!pid) {
        continue;
      }
      if (line[0] == '+') {
        groups.push_back(static_cast<int>(*pid));
      } else {
        std::erase(groups, static_cast<int>(*pid));
      }
    }
  }
  for (const int group : groups) {
    ::kill(-group, SIGKILL);
  }
  ::_exit(0);
}

} // namespace

PosixProcessControl::PosixProcessControl() : m_agent_pid(::getpid()) {
  const auto set = agent_signals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  m_signal_fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (m_signal_fd < 0) {
    throw JobError(fmt::format("signalfd: {}", std::strerror(errno)));
  }
  // Orphaned grandchildren come to the agent, which reaps them and kills them after an attempt.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw JobError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  m_guard_pid = ::fork();
  if (m_guard_pid == 0) {
    ::close(fds[1]);
    run_guard(fds[0]);
  }
  ::close(fds[0]);
  if (m_guard_pid < 0) {
    ::close(fds[1]);
    throw JobError(fmt::format("fork: {}", std::strerror(errno)));
  }
  m_guard_fd = fds[1];
}

PosixProcessControl::~PosixProcessControl() {
  ::close(m_guard_fd); // the guard kills what is left, then exits
  int status = 0;
  ::waitpid(m_guard_pid, &status, 0);
  ::close(m_signal_fd);
  const auto set = agent_signals();
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

SpawnedWorker PosixProcessControl::spawn(const WorkerSpec& spec) {
  if (spec.argv.empty()) {
    throw JobError("no command to run");
  }
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& arg : spec.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& entry : spec.env) {
    envp.push_back(const_cast<char*>(entry.c_str()));
  }
  envp.push_back(nullptr);
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  for (const int cpu : spec.cpus) {
    CPU_SET(cpu, &cpus);
  }
  unsigned long nodemask[16] = {};
  if (spec.numa_node && *spec.numa_node >= 0 && *spec.numa_node < 16 * 64) {
    nodemask[*spec.numa_node / 64] |= 1ul << (*spec.numa_node % 64);
  }
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw JobError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    for (const int fd : {out[0], out[1], err[0], err[1]}) {
      ::close(fd);
    }
    throw JobError(fmt::format("fork: {}", std::strerror(error)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    // No worker outlives its agent, even one killed with SIGKILL.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(128 + SIGKILL); // the agent died before the line above took effect
    }
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    for (int signal = 1; signal < NSIG; ++signal) {
      ::signal(signal, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!spec.cpus.empty() && ::sched_setaffinity(0, sizeof cpus, &cpus) != 0) {
      child_error("sched_setaffinity failed: ", std::strerror(errno));
    }
    if (spec.numa_node) {
      ::syscall(SYS_set_mempolicy, k_mpol_preferred, nodemask, 16 * 64);
    }
    ::execve(argv[0], argv.data(), envp.data());
    child_error("cannot execute ", argv[0]);
    ::_exit(127);
  }
  // Also from the parent, so that signal_group cannot race the child's own setpgid.
  ::setpgid(pid, pid);
  m_workers.push_back(pid);
  tell_guard('+', pid);
  ::close(out[1]);
  ::close(err[1]);
  return {pid, out[0], err[0]};
}

void PosixProcessControl::tell_guard(char change, int pid) {
  const auto line = fmt::format("{}{}\n", change, pid);
  [[maybe_unused]] const auto ignored = ::write(m_guard_fd, line.data(), line.size());
}

void PosixProcessControl::signal_group(int pid, int signal) {
  if (::kill(-pid, signal) != 0 && errno == ESRCH) {
    ::kill(pid, signal); // not (yet) a group leader
  }
}

void PosixProcessControl::kill_strays() {
  // Children of the agent that are not reaped yet: adopted orphans that left their worker's
  // process group (setsid, double fork). Found through /proc/*/stat's parent pid.
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return;
  }
  while (const auto* entry = ::readdir(proc)) {
    const auto pid = util::parse_int(entry->d_name);
    if (!pid) {
      continue;
    }
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%lld/stat", static_cast<long long>(*pid));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    char buffer[512] = {};
    const auto got = ::read(fd, buffer, sizeof buffer - 1);
    ::close(fd);
    const char* close_paren = got > 0 ? std::strrchr(buffer, ')') : nullptr;
    char state = 0;
    int ppid = 0;
    if (close_paren != nullptr && std::sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2 &&
        ppid == m_agent_pid && state != 'Z' && *pid != m_guard_pid) {
      ::kill(static_cast<pid_t>(*pid), SIGKILL);
    }
  }
  ::closedir(proc);
}

void PosixProcessControl::reap() {
  while (true) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      return;
    }
    if (const auto worker = std::find(m_workers.begin(), m_workers.end(), pid);
        worker != m_workers.end()) {
      // Its group dies with it (the supervisor SIGKILLs it on exit): the guard may forget it.
      m_workers.erase(worker);
      ::kill(-pid, SIGKILL);
      tell_guard('-', pid);
    }
    Event event;
    event.kind = Event::Kind::exited;
    event.pid = pid;
    if (WIFSIGNALED(status)) {
      event.status.signal = WTERMSIG(status);
    } else {
      event.status.exit_code = WEXITSTATUS(status);
    }
    m_queue.push_back(event);
  }
}

Event PosixProcessControl::next(util::Clock::TimePoint deadline, int wake_fd) {
  while (true) {
    reap();
    if (!m_queue.empty()) {
      const auto event = m_queue.front();
      m_queue.erase(m_queue.begin());
      return event;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      return {};
    }
    pollfd entries[] = {{m_signal_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const int ready = ::poll(entries, wake_fd >= 0 ? 2 : 1, static_cast<int>(std::min<long long>(left, 60'000)));
    if (ready <= 0) {
      continue;
    }
    if ((entries[0].revents & POLLIN) == 0) {
      reap();
      if (m_queue.empty()) {
        Event woken;
        woken.kind = Event::Kind::woken;
        return woken;
      }
      continue;
    }
    signalfd_siginfo info{};
    while (::read(m_signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      if (static_cast<int>(info.ssi_signo) != SIGCHLD) {
        Event event;
        event.kind = Event::Kind::signal;
        event.signal = static_cast<int>(info.ssi_signo);
        m_queue.push_back(event);
      }
    }
  }
}

int PosixProcessControl::take_stop_signal() {
  signalfd_siginfo info{};
  while (::read(m_signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    const int signal = static_cast<int>(info.ssi_signo);
    if (signal == SIGTERM || signal == SIGINT || signal == SIGHUP) {
      return signal;
    }
  }
  reap();
  return 0;
}

std::string resolve_program(const std::string& name, const std::string& path_env) {
  auto executable = [](const std::string& path) {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
  };
  if (name.empty()) {
    throw InputError("no command after '--' (expected brix launch [options] -- CMD ARGS...)");
  }
  if (name.find('/') != std::string::npos) {
    if (!executable(name)) {
      throw InputError(fmt::format("command '{}' is not an executable file", name));
    }
    if (name.front() == '/') {
      return name;
    }
    char cwd[4096];
    return ::getcwd(cwd, sizeof cwd) != nullptr ? fmt::format("{}/{}", cwd, name) : name;
  }
  for (const auto& dir : util::split(path_env, ':')) {
    const auto candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, name);
    if (executable(candidate)) {
      return candidate;
    }
  }
  throw InputError(fmt::format("command '{}' not found on PATH", name));
}

} // namespace brix::launch
