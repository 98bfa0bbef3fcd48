#include <support/fake_clock.hpp>
#include <support/temp_dir.hpp>

#include <brix/launch/supervisor.hpp>

#include <doctest/doctest.h>

#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

using namespace brix::launch;
using namespace std::chrono_literals;

namespace {

/// Processes that exist only as pids; they exit when the test says or when signalled.
class FakeProcesses final : public ProcessControl, public EventSource {
public:
  explicit FakeProcesses(brix::test::FakeClock& clock) : m_clock(clock) {}

  std::set<int> ignore_term; ///< pids that survive SIGTERM
  std::vector<std::pair<int, int>> signals; ///< (pid, signal) as sent
  std::deque<Event> script; ///< events delivered before any timeout
  std::set<int> alive;
  int strays_killed = 0;
  int ready_fd = -1; ///< a wake fd reported readable
  int wakes = 0;

  SpawnedWorker spawn(const WorkerSpec& spec) override {
    const int pid = 100 + spec.local_rank;
    alive.insert(pid);
    return {pid, -1, -1};
  }
  void signal_group(int pid, int signal) override {
    signals.emplace_back(pid, signal);
    if (!alive.contains(pid)) {
      return;
    }
    if (signal == SIGKILL || (signal == SIGTERM && !ignore_term.contains(pid))) {
      exit_later(pid, {0, signal});
    }
  }
  void kill_strays() override { ++strays_killed; }
  Event next(brix::util::Clock::TimePoint deadline, int wake_fd) override {
    if (wake_fd >= 0 && wake_fd == ready_fd) {
      ++wakes;
      Event woken;
      woken.kind = Event::Kind::woken;
      return woken;
    }
    if (!script.empty()) {
      auto event = script.front();
      script.pop_front();
      if (event.kind == Event::Kind::exited) {
        alive.erase(event.pid);
      }
      return event;
    }
    m_clock.advance(deadline - m_clock.now());
    return {};
  }
  void exit_later(int pid, ExitStatus status) {
    Event event;
    event.kind = Event::Kind::exited;
    event.pid = pid;
    event.status = status;
    script.push_back(event);
  }
  void receive(int signal) {
    Event event;
    event.kind = Event::Kind::signal;
    event.signal = signal;
    script.push_back(event);
  }
  [[nodiscard]] int count(int signal) const {
    int n = 0;
    for (const auto& entry : signals) {
      n += entry.second == signal ? 1 : 0;
    }
    return n;
  }

private:
  brix::test::FakeClock& m_clock;
};

/// One-node channel: the first record posted wins; success of this node means done.
class FakeChannel final : public JobChannel {
public:
  std::optional<StopRecord> posted;
  std::optional<StopRecord> remote; ///< appears at poll number `remote_at_poll`
  int remote_at_poll = 1;
  int polls = 0;
  int wake = -1; ///< what wake_fd() returns
  int successes = 0;
  int wake_fd() const override { return wake; }
  StopRecord post_stop(const StopRecord& record) override {
    if (!posted) {
      posted = record;
    }
    return *posted;
  }
  void report_success() override {
    ++successes;
    StopRecord done;
    done.kind = StopKind::done;
    (void)post_stop(done);
  }
  std::optional<StopRecord> poll() override {
    if (remote && !posted && ++polls >= remote_at_poll) {
      posted = remote;
    }
    return posted;
  }
  StopRecord settle(const StopRecord& adopted, std::chrono::milliseconds) override {
    return posted.value_or(adopted);
  }
};

std::vector<WorkerSpec> workers(int count) {
  std::vector<WorkerSpec> specs;
  for (int i = 0; i < count; ++i) {
    WorkerSpec spec;
    spec.rank = 10 + i;
    spec.local_rank = i;
    spec.argv = {"/bin/true"};
    specs.push_back(spec);
  }
  return specs;
}

SupervisorOptions options() {
  SupervisorOptions result;
  result.node = "n2";
  result.node_rank = 1;
  result.grace = 5s;
  result.monitor_interval = 250ms;
  return result;
}

} // namespace

TEST_CASE("launch::Supervisor") {
  brix::test::FakeClock clock;
  FakeProcesses processes(clock);
  FakeChannel channel;
  auto settings = options();

  SUBCASE("every worker exits 0: success is reported, nothing is signalled but the groups") {
    for (int pid : {100, 101, 102}) {
      processes.exit_later(pid, {0, 0});
    }
    const auto start = clock.now();
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(workers(3), channel);
    CHECK(result.stop.kind == StopKind::done);
    CHECK(channel.successes == 1);
    CHECK(clock.now() - start < settings.monitor_interval); // `done` ends it: no tick is waited for
    CHECK(processes.count(SIGTERM) == 0);
    CHECK(exit_code_for(result.stop) == 0);
    CHECK(processes.strays_killed == 1);
  }
  SUBCASE("a failing worker stops the others with SIGTERM and is the reported failure") {
    processes.exit_later(101, {3, 0});
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(workers(3), channel);
    CHECK(result.stop.kind == StopKind::failed);
    CHECK(result.stop.rank == 11);
    CHECK(result.stop.local_rank == 1);
    CHECK(result.stop.node == "n2");
    CHECK(result.stop.exit_code == 3);
    CHECK(result.stop.restartable);
    CHECK(exit_code_for(result.stop) == 3);
    CHECK(processes.count(SIGTERM) == 2);
    CHECK_FALSE(result.killed_after_grace);
    CHECK(result.workers[0].status.signal == SIGTERM);
  }
  SUBCASE("a worker ignoring SIGTERM gets SIGKILL when the grace period is over") {
    processes.ignore_term = {100};
    processes.exit_later(101, {1, 0});
    const auto start = clock.now();
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(workers(2), channel);
    CHECK(result.killed_after_grace);
    CHECK(clock.now() - start >= 5s);
    CHECK(clock.now() - start < 6s);
    CHECK(result.workers[0].status.signal == SIGKILL);
  }
  SUBCASE("SIGTERM to the agent reaches every worker once and ends the job") {
    processes.ignore_term = {100, 101};
    processes.receive(SIGTERM);
    processes.exit_later(100, {0, 0}); // they finish their checkpoint within the grace
    processes.exit_later(101, {0, 0});
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(workers(2), channel);
    CHECK(result.received_signal == SIGTERM);
    CHECK(result.stop.kind == StopKind::signalled);
    CHECK_FALSE(result.stop.restartable);
    CHECK(exit_code_for(result.stop) == 128 + SIGTERM);
    CHECK(processes.count(SIGTERM) == 2);
    CHECK_FALSE(result.killed_after_grace);
  }
  SUBCASE("SIGUSR1 is forwarded without stopping the job") {
    processes.receive(SIGUSR1);
    processes.exit_later(100, {0, 0});
    processes.exit_later(101, {0, 0});
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(workers(2), channel);
    CHECK(processes.count(SIGUSR1) == 2);
    CHECK(result.stop.kind == StopKind::done);
  }
  SUBCASE("a failure on another node stops the local workers") {
    StopRecord remote;
    remote.kind = StopKind::failed;
    remote.node = "n4";
    remote.rank = 7;
    remote.exit_code = 1;
    channel.remote = remote;
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(workers(2), channel);
    CHECK(result.stop.node == "n4");
    CHECK(result.stop.rank == 7);
    CHECK(processes.count(SIGTERM) == 2);
  }
  SUBCASE("a stop posted elsewhere is read when the channel wakes, not at the next interval") {
    StopRecord remote;
    remote.kind = StopKind::failed;
    remote.node = "n4";
    remote.rank = 7;
    channel.remote = remote;
    channel.remote_at_poll = 2; // not there at the first poll, when the workers start
    channel.wake = 99;
    processes.ready_fd = 99;
    const auto start = clock.now();
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(workers(2), channel);
    CHECK(result.stop.rank == 7);
    CHECK(processes.wakes == 1);
    CHECK(processes.count(SIGTERM) == 2);
    CHECK(clock.now() - start < settings.monitor_interval); // no tick was waited for
  }
  SUBCASE("exit codes in --no-restart-exit-codes are not restartable") {
    settings.no_restart_exit_codes = {42};
    processes.exit_later(100, {42, 0});
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(workers(1), channel);
    CHECK_FALSE(result.stop.restartable);
  }
  SUBCASE("the error file and stderr tail go into the record") {
    const brix::test::TempDir temp;
    const auto& dir = temp.path();
    auto specs = workers(1);
    specs[0].error_file = (dir / "error.json").string();
    specs[0].stderr_path = (dir / "rank_10.err").string();
    std::ofstream(specs[0].error_file)
        << R"({"message": {"message": "RuntimeError: boom", "extraInfo": )"
        << R"({"py_callstack": "Traceback ...", "timestamp": "1700000000"}}})";
    std::ofstream(specs[0].stderr_path) << "line 1\nline 2\nRuntimeError: boom\n";
    processes.exit_later(100, {1, 0});
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(specs, channel);
    CHECK(result.stop.message == "RuntimeError: boom");
    CHECK(result.stop.traceback == "Traceback ...");
    CHECK(result.stop.time == doctest::Approx(1700000000.0));
    CHECK(result.stop.stderr_tail ==
          std::vector<std::string>{"line 1", "line 2", "RuntimeError: boom"});
    const auto report = failure_report(result.stop, 0, 1);
    CHECK(report.find("rank 10") != std::string::npos);
    CHECK(report.find("exited with code 1") != std::string::npos);
    CHECK(report.find("| RuntimeError: boom") != std::string::npos);
  }
  SUBCASE("a failed worker's output is flushed before its stderr tail is read") {
    const brix::test::TempDir temp;
    auto specs = workers(2);
    specs[1].stderr_path = temp.file("rank_11.err");
    processes.exit_later(101, {2, 0});
    std::vector<int> flushed;
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(specs, channel, {}, [&](const WorkerSpec& spec) {
      flushed.push_back(spec.rank);
      std::ofstream(spec.stderr_path) << "copied late\n"; // what the log pump still held
    });
    CHECK(flushed == std::vector<int>{11});
    CHECK(result.stop.stderr_tail == std::vector<std::string>{"copied late"});
  }
  SUBCASE("an earlier failure posted by another node replaces the adopted one") {
    processes.exit_later(100, {1, 0});
    StopRecord earlier;
    earlier.kind = StopKind::failed;
    earlier.node = "n4";
    earlier.rank = 7;
    earlier.time = 1.0; // long before this worker's exit
    struct LateChannel final : JobChannel {
      std::optional<StopRecord> posted;
      StopRecord earlier;
      int settled = 0;
      StopRecord post_stop(const StopRecord& record) override {
        posted = record;
        return record;
      }
      void report_success() override {}
      std::optional<StopRecord> poll() override { return posted; }
      StopRecord settle(const StopRecord&, std::chrono::milliseconds) override {
        ++settled;
        return earlier; // node n4 posted its earlier failure after ours
      }
    } late;
    late.earlier = earlier;
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(workers(1), late);
    CHECK(late.settled == 1);
    CHECK(result.stop.node == "n4");
    CHECK(result.stop.rank == 7);
  }
  SUBCASE("a worker killed by a signal is named by the signal") {
    processes.exit_later(100, {0, SIGSEGV});
    Supervisor supervisor(processes, processes, clock, settings);
    const auto result = supervisor.run(workers(1), channel);
    CHECK(result.stop.signal == SIGSEGV);
    CHECK(exit_code_for(result.stop) == 128 + SIGSEGV);
    CHECK(failure_report(result.stop, 0, 0).find("SIGSEGV") != std::string::npos);
    CHECK(result.stop.message.find("Signal 11 (SIGSEGV) received by PID 100") != std::string::npos);
  }
}

TEST_CASE("launch::signal_name") {
  CHECK(signal_name(SIGKILL) == "SIGKILL");
  CHECK(signal_name(SIGTERM) == "SIGTERM");
}
