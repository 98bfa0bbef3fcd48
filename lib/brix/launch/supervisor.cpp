#include <brix/launch/supervisor.hpp>

#include <brix/net/socket.hpp>

#include <algorithm>
#include <csignal>
#include <fmt/format.h>
#include <map>

namespace brix::launch {

StopRecord failure_record(const WorkerSpec& worker, int pid, const ExitStatus& status,
                          const SupervisorOptions& options) {
  StopRecord record;
  record.kind = StopKind::failed;
  record.node = options.node;
  record.node_rank = options.node_rank;
  record.rank = worker.rank;
  record.local_rank = worker.local_rank;
  record.pid = pid;
  record.exit_code = status.exit_code;
  record.signal = status.signal;
  record.time = util::unix_seconds();
  record.restartable = status.signal != 0 ||
                       std::find(options.no_restart_exit_codes.begin(),
                                 options.no_restart_exit_codes.end(),
                                 status.exit_code) == options.no_restart_exit_codes.end();
  if (const auto file = read_error_file(worker.error_file)) {
    record.message = file->message;
    record.traceback = file->traceback;
    if (file->timestamp) {
      record.time = *file->timestamp;
    }
  } else if (status.signal != 0) {
    record.message = fmt::format("Signal {} ({}) received by PID {}", status.signal,
                                 signal_name(status.signal), pid);
  }
  record.stderr_path = worker.stderr_path;
  record.stderr_tail = tail_lines(worker.stderr_path, options.stderr_tail_lines);
  return record;
}

Supervisor::Supervisor(ProcessControl& processes, EventSource& events, util::Clock& clock,
                       SupervisorOptions options, NoteSink note)
    : m_processes(processes), m_events(events), m_clock(clock), m_options(std::move(options)),
      m_note(std::move(note)) {}

AttemptResult Supervisor::run(const std::vector<WorkerSpec>& workers, JobChannel& channel,
                              const SpawnHook& on_spawn, const OutputFlush& flush_output) {
  AttemptResult result;
  std::map<int, std::size_t> running; // pid -> index into workers
  result.workers.resize(workers.size());
  std::optional<StopRecord> stop;
  bool stopping = false;
  bool reported_success = false;
  util::Clock::TimePoint kill_at{};

  auto note = [&](const std::string& line) {
    if (m_note) {
      m_note(line);
    }
  };
  auto signal_all = [&](int signal) {
    for (const auto& [pid, index] : running) {
      m_processes.signal_group(pid, signal);
    }
  };
  // The channel talks to node 0's store; losing it ends the attempt like a lost node.
  auto guarded = [&](auto&& call) -> std::optional<StopRecord> {
    try {
      return call();
    } catch (const net::NetError& e) {
      StopRecord lost;
      lost.kind = StopKind::lost;
      lost.node_rank = 0;
      lost.node = "the rendezvous store's node";
      lost.time = util::unix_seconds();
      lost.restartable = false;
      lost.message = fmt::format("lost the rendezvous store: {}", e.what());
      return lost;
    }
  };
  auto begin_stopping = [&](int signal) {
    if (stopping) {
      return;
    }
    stopping = true;
    kill_at = m_clock.now() + m_options.grace;
    if (signal != 0) {
      signal_all(signal);
    }
  };
  auto adopt = [&](const StopRecord& record, int signal) {
    if (!stop) {
      stop = record;
    }
    if (!running.empty()) {
      begin_stopping(signal);
    }
  };

  for (std::size_t i = 0; i < workers.size(); ++i) {
    SpawnedWorker spawned;
    try {
      spawned = m_processes.spawn(workers[i]);
    } catch (...) {
      signal_all(SIGKILL);
      throw;
    }
    running.emplace(spawned.pid, i);
    result.workers[i] = {workers[i].rank, workers[i].local_rank, spawned.pid, {}, 0};
    if (on_spawn) {
      on_spawn(workers[i], spawned);
    }
  }

  auto next_poll = m_clock.now();
  while (!running.empty() || !stop) {
    const auto now = m_clock.now();
    if (now >= next_poll) {
      next_poll = now + m_options.monitor_interval;
      if (auto posted = guarded([&] { return channel.poll(); }); posted && !stop) {
        if (posted->kind != StopKind::done) {
          note(fmt::format("attempt over: {} on {}: stopping local workers",
                           to_string(posted->kind), posted->node));
        }
        adopt(*posted, SIGTERM);
      }
    }
    if (running.empty() && stop) {
      break; // the record just read ends an attempt with nothing left to wait for
    }
    if (stopping && !running.empty() && m_clock.now() >= kill_at) {
      note(fmt::format("grace period of {} s over: SIGKILL to {} worker(s)",
                       std::chrono::duration<double>(m_options.grace).count(), running.size()));
      signal_all(SIGKILL);
      result.killed_after_grace = true;
      kill_at = util::Clock::TimePoint::max();
    }
    auto deadline = next_poll;
    if (stopping && kill_at < deadline) {
      deadline = kill_at;
    }
    // Until a record is adopted, the channel's news wakes the wait (then its fd stays readable).
    const auto event = m_events.next(deadline, stop ? -1 : channel.wake_fd());
    if (event.kind == Event::Kind::woken) {
      next_poll = m_clock.now();
    } else if (event.kind == Event::Kind::exited) {
      const auto found = running.find(event.pid);
      if (found == running.end()) {
        continue; // an adopted orphan, reaped
      }
      const auto index = found->second;
      running.erase(found);
      auto& outcome = result.workers[index];
      outcome.status = event.status;
      outcome.exited_at = util::unix_seconds();
      // Its process group may hold more processes: they go with the worker.
      m_processes.signal_group(event.pid, SIGKILL);
      if (!event.status.success() && !stop) {
        if (flush_output) {
          flush_output(workers[index]);
        }
        const auto record = failure_record(workers[index], event.pid, event.status, m_options);
        auto in_force = guarded([&] { return std::optional(channel.post_stop(record)); });
        adopt(*in_force, SIGTERM);
      } else if (running.empty() && !stop && !reported_success) {
        reported_success = true;
        next_poll = m_clock.now(); // the last node to succeed has just posted `done`
        if (auto lost = guarded([&] {
              channel.report_success();
              return std::optional<StopRecord>();
            })) {
          adopt(*lost, 0);
        }
      }
    } else if (event.kind == Event::Kind::signal) {
      // Every forwarded signal reaches every worker's process group (USR1/USR2 too: Slurm's
      // --signal warnings before the time limit).
      signal_all(event.signal);
      if (event.signal == SIGTERM || event.signal == SIGINT || event.signal == SIGHUP) {
        note(fmt::format("received {}: forwarded to {} worker(s); SIGKILL after {} s",
                         signal_name(event.signal), running.size(),
                         std::chrono::duration<double>(m_options.grace).count()));
        if (result.received_signal == 0) {
          result.received_signal = event.signal;
        }
        if (!stop) {
          StopRecord record;
          record.kind = StopKind::signalled;
          record.node = m_options.node;
          record.node_rank = m_options.node_rank;
          record.signal = event.signal;
          record.time = util::unix_seconds();
          record.restartable = false;
          auto in_force = guarded([&] { return std::optional(channel.post_stop(record)); });
          adopt(*in_force, 0);
        }
        begin_stopping(0);
      } else {
        note(fmt::format("received {}: forwarded to {} worker(s)", signal_name(event.signal),
                         running.size()));
      }
    }
  }
  // An earlier failure on another node, reaped later than ours, may still replace the record
  // adopted here: once every node's workers are gone, all nodes read the same first failure
  // (and so take the same restart decision).
  if (stop->kind == StopKind::failed) {
    try {
      stop = channel.settle(*stop, m_options.grace + std::chrono::seconds(5));
    } catch (const net::NetError&) {
      // The store is gone: the record adopted here is the best this node knows.
    }
  }
  m_processes.kill_strays();
  result.stop = *stop;
  return result;
}

} // namespace brix::launch
