#include <brix/monitor/job_monitor.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace brix::monitor {

JobMonitor::JobMonitor(JobMonitorOptions options, const Clock& clock, ActionSink& sink)
    : m_options(std::move(options)), m_clock(clock), m_sink(sink), m_started(clock.now()),
      m_stragglers(m_options.straggler), m_rules(m_options.rules) {
  m_stragglers.set_world_size(m_options.world_size);
}

void JobMonitor::emit(Event event) {
  ++m_event_counts[event.type];
  m_sink.event(event);
}

void JobMonitor::mark_suspect(const std::string& node, const std::string& reason, double now) {
  auto& view = m_nodes[node];
  if (view.suspect) {
    return;
  }
  view.suspect = true;
  view.suspect_reason = reason;
  m_sink.suspect(node, reason, now);
  Event event{now, std::string(event_type::suspect), node, std::nullopt,
              fmt::format("node {} marked suspect: {}", node, reason)};
  event.details["reason"] = reason;
  emit(std::move(event));
}

void JobMonitor::ingest(const NodeSample& sample) {
  const double now = m_clock.now();
  // Times from the node are moved onto our clock: nodes' clocks may disagree with ours.
  const double offset = now - sample.time;
  auto& node = m_nodes[sample.node];
  node.node = sample.node;
  node.last_sample = now;
  node.gpu_available = sample.gpus.available;
  node.gpu_reason = sample.gpus.reason;
  node.gpus = sample.gpus.gpus;
  node.rejected_lines = sample.rejected_lines;
  node.last_rejection = sample.last_rejection;

  for (const auto& rank : sample.ranks) {
    auto [it, inserted] = m_ranks.try_emplace(rank.rank);
    RankView& view = it->second;
    if (inserted) {
      view.rank = rank.rank;
      Event event{now, std::string(event_type::join), sample.node, rank.rank,
                  fmt::format("rank {} joined on {} (pid {})", rank.rank, sample.node, rank.pid)};
      event.details["pid"] = rank.pid;
      emit(std::move(event));
    }
    view.node = sample.node;
    view.pid = rank.pid;
    view.stage = rank.stage;
    view.step = rank.step;
    view.step_seconds = rank.step_seconds;
    view.compute_seconds = rank.compute_seconds;
    view.cpu_percent = rank.cpu_percent;
    view.rss_bytes = rank.rss_bytes;
    view.cpu_seconds = rank.cpu_seconds;
    view.values = rank.values;
    if (rank.last_report > 0) {
      view.last_report = rank.last_report + offset;
    }
    if (!rank.alive && view.state != rank_state::exited) {
      view.state = std::string(rank_state::exited);
      Event event{now, std::string(event_type::exit), sample.node, rank.rank,
                  fmt::format("rank {} (pid {}) is gone; its exit status is the launcher's to report",
                              rank.rank, rank.pid)};
      event.details["pid"] = rank.pid;
      event.details["source"] = "monitor";
      emit(std::move(event));
    } else if (rank.alive && view.state == rank_state::exited) {
      view.state = std::string(rank_state::waiting); // restarted under the same rank
    }
    const Subject subject{sample.node, rank.rank, std::nullopt};
    for (const auto& [key, value] : rank.values) {
      observe(subject, key, value, now);
    }
    if (rank.cpu_percent) {
      observe(subject, "cpu_percent", *rank.cpu_percent, now);
    }
    if (rank.rss_bytes) {
      observe(subject, "rss_bytes", static_cast<double>(*rank.rss_bytes), now);
    }
  }
  for (const auto& record : sample.steps) {
    on_step(record, sample.node);
  }
  for (const auto& gpu : sample.gpus.gpus) {
    const Subject subject{sample.node, std::nullopt, gpu.index};
    const std::pair<const char*, std::optional<double>> figures[] = {
        {"gpu_utilization", gpu.utilization_percent}, {"gpu_memory_used_mib", gpu.memory_used_mib},
        {"gpu_memory_free_mib", gpu.memory_free_mib}, {"gpu_temperature", gpu.temperature_c},
        {"gpu_power", gpu.power_w}, {"gpu_xid_count", static_cast<double>(gpu.xid_count)}};
    for (const auto& [metric, value] : figures) {
      if (value) {
        observe(subject, metric, *value, now);
      }
    }
  }
  tick();
}

void JobMonitor::restart_step_statistics() {
  m_stragglers = StragglerDetector(m_options.straggler);
  m_stragglers.set_world_size(m_options.world_size);
  m_change_points.clear();
  m_stage_steps.clear();
  m_last_step.clear();
  for (auto& [number, view] : m_ranks) {
    view.straggler = false;
    view.straggler_reason.clear();
    view.peer_ratio = view.history_ratio = 1.0;
    view.recent.clear();
  }
}

void JobMonitor::on_step(const StepRecord& record, const std::string& node) {
  const double now = m_clock.now();
  if (const auto last = m_last_step.find(record.rank); last != m_last_step.end() && record.step < last->second) {
    restart_step_statistics();
  }
  m_last_step[record.rank] = record.step;
  // Synchronous collectives equalise wall times: score compute time when the worker gives it.
  const double busy = record.compute_seconds.value_or(record.seconds);
  auto& recent = m_ranks[record.rank].recent;
  recent.push_back({record.step, record.seconds, busy});
  if (static_cast<int>(recent.size()) > m_options.recent_steps) {
    recent.erase(recent.begin(), recent.end() - std::max(0, m_options.recent_steps));
  }
  const Subject subject{node, record.rank, std::nullopt};
  observe(subject, "step_seconds", record.seconds, now);
  if (record.compute_seconds) {
    observe(subject, "compute_seconds", *record.compute_seconds, now);
  }
  for (const auto& change : m_stragglers.add(record.rank, record.step, busy)) {
    auto& view = m_ranks[change.rank];
    Event event{now, std::string(event_type::straggler), view.node, change.rank, ""};
    if (change.flagged) {
      event.message = change.reason == "peers"
                          ? fmt::format("rank {} on {} is a straggler: {:.2f}x its peers' median at step {}",
                                        change.rank, view.node, change.peer_ratio, change.step)
                          : fmt::format("rank {} on {} is a straggler: {:.2f}x its own earlier steps at step {}",
                                        change.rank, view.node, change.history_ratio, change.step);
    } else {
      event.message = fmt::format("rank {} on {} is no longer a straggler at step {}", change.rank,
                                  view.node, change.step);
    }
    event.details["flagged"] = change.flagged;
    event.details["reason"] = change.reason;
    event.details["step"] = change.step;
    event.details["peer_ratio"] = change.peer_ratio;
    event.details["history_ratio"] = change.history_ratio;
    emit(std::move(event));
  }
  for (const auto& score : m_stragglers.scores()) {
    auto& view = m_ranks[score.rank];
    view.peer_ratio = score.peer_ratio;
    view.history_ratio = score.history_ratio;
    view.straggler = score.flagged;
    view.straggler_reason = score.reason;
  }
  auto& detector = m_change_points.try_emplace(record.rank, m_options.change_point).first->second;
  if (const auto point = detector.add(record.step, record.time, busy)) {
    Event event{now, std::string(event_type::change_point), node, record.rank,
                fmt::format("rank {} on {}: step time {} from {:.4g} s to {:.4g} s at step {}", record.rank,
                            node, point->slowdown ? "rose" : "fell", point->before, point->after, point->step)};
    event.details["step"] = point->step;
    event.details["slowdown"] = point->slowdown;
    event.details["before_seconds"] = point->before;
    event.details["after_seconds"] = point->after;
    emit(std::move(event));
    if (point->slowdown) {
      auto& times = m_slowdowns[record.rank];
      times.push_back(point->time);
      if (const auto period = periodic_interval(times)) {
        const bool changed = !m_period || std::abs(*period - *m_period) > 0.1 * *m_period;
        m_period = *period;
        m_period_node = node;
        if (changed) {
          Event periodic{now, std::string(event_type::periodic), node, record.rank,
                         fmt::format("rank {} on {} slows down every {:.0f} s", record.rank, node, *period)};
          periodic.details["interval_seconds"] = *period;
          periodic.details["occurrences"] = times.size();
          emit(std::move(periodic));
        }
      }
    }
  }
  const auto stage = m_ranks[record.rank].stage;
  if (stage) {
    auto& steps = m_stage_steps[*stage];
    auto& slowest = steps[record.step];
    slowest.compute = std::max(slowest.compute, busy);
    slowest.wall = std::max(slowest.wall, record.seconds);
    ++slowest.ranks;
    while (static_cast<int>(steps.size()) > m_options.stage_window) {
      steps.erase(steps.begin());
    }
  }
}

void JobMonitor::observe(const Subject& subject, const std::string& metric, double value, double now) {
  if (!m_rules.watches(metric)) {
    return;
  }
  for (const auto& change : m_rules.observe(subject, metric, value, now)) {
    const Rule* rule = nullptr;
    for (const auto& candidate : m_rules.rules()) {
      rule = candidate.name == change.rule ? &candidate : rule;
    }
    if (rule == nullptr) {
      continue;
    }
    if (rule->log_event) {
      Event event{now, std::string(event_type::threshold), subject.node, subject.rank,
                  fmt::format("{}: {} {} -> {} ({} = {:.6g})", rule->name, subject.describe(),
                              state_name(change.from), state_name(change.to), metric, value)};
      event.details["rule"] = rule->name;
      event.details["metric"] = metric;
      event.details["from"] = state_name(change.from);
      event.details["to"] = state_name(change.to);
      event.details["value"] = value;
      if (subject.gpu) {
        event.details["gpu"] = *subject.gpu;
      }
      emit(std::move(event));
    }
    if (rule->mark_suspect && change.to == RuleState::abnormal) {
      mark_suspect(subject.node, fmt::format("rule {} abnormal on {}", rule->name, subject.describe()), now);
    }
    if (!rule->hook.empty()) {
      m_sink.hook(rule->hook, {{"BRIX_JOB", m_options.job},
                               {"BRIX_RULE", rule->name},
                               {"BRIX_METRIC", metric},
                               {"BRIX_STATE", std::string(state_name(change.to))},
                               {"BRIX_PREVIOUS_STATE", std::string(state_name(change.from))},
                               {"BRIX_VALUE", fmt::format("{:.9g}", value)},
                               {"BRIX_NODE", subject.node},
                               {"BRIX_RANK", subject.rank ? std::to_string(*subject.rank) : ""},
                               {"BRIX_GPU", subject.gpu ? std::to_string(*subject.gpu) : ""}});
    }
  }
}

void JobMonitor::tick() {
  const double now = m_clock.now();
  for (auto& [number, view] : m_ranks) {
    if (view.state == rank_state::exited || view.last_report <= 0) {
      continue;
    }
    const double age = now - view.last_report;
    observe(Subject{view.node, number, std::nullopt}, "heartbeat_age", age, now);
    if (age > m_options.heartbeat_timeout && view.state != rank_state::stale) {
      view.state = std::string(rank_state::stale);
      Event event{now, std::string(event_type::heartbeat_lost), view.node, number,
                  fmt::format("rank {} on {} has not reported for {:.0f} s", number, view.node, age)};
      event.details["age_seconds"] = age;
      emit(std::move(event));
    } else if (age <= m_options.heartbeat_timeout && view.state != rank_state::running) {
      if (view.state == rank_state::stale) {
        emit(Event{now, std::string(event_type::heartbeat_resumed), view.node, number,
                   fmt::format("rank {} on {} reports again", number, view.node)});
      }
      view.state = std::string(rank_state::running);
    }
  }
}

Snapshot JobMonitor::snapshot() const {
  Snapshot out;
  out.job = m_options.job;
  out.time = m_clock.now();
  out.started = m_started;
  out.world_size = std::max<int>(m_options.world_size, static_cast<int>(m_ranks.size()));
  out.step_median_seconds = m_stragglers.last_step_median();
  out.periodic_slowdown_seconds = m_period;
  out.periodic_slowdown_node = m_period_node;
  for (const auto& [name, node] : m_nodes) {
    out.nodes.push_back(node);
  }
  std::map<int, std::vector<int>> stage_ranks;
  for (const auto& [number, rank] : m_ranks) {
    out.ranks.push_back(rank);
    if (rank.state == rank_state::running && (out.step < 0 || rank.step < out.step)) {
      out.step = rank.step;
    }
    if (rank.stage) {
      stage_ranks[*rank.stage].push_back(number);
    }
  }
  for (const auto& entry : m_rules.entries()) {
    out.rules.push_back({entry.rule->name, entry.rule->metric, entry.subject.describe(), entry.subject.node,
                         entry.subject.rank, entry.subject.gpu, std::string(state_name(entry.state)),
                         entry.value, entry.since});
  }
  for (const auto& [stage, steps] : m_stage_steps) {
    std::vector<double> compute;
    std::vector<double> wall;
    const auto ranks = static_cast<int>(stage_ranks[stage].size());
    for (const auto& [step, slowest] : steps) {
      if (slowest.ranks >= ranks) { // a step counts once every rank of the stage reported it
        compute.push_back(slowest.compute);
        wall.push_back(slowest.wall);
      }
    }
    if (!compute.empty()) {
      out.stages.push_back({stage, stage_ranks[stage], static_cast<std::int64_t>(compute.size()),
                            median(compute), median(wall)});
    }
  }
  out.event_counts = m_event_counts;
  return out;
}

} // namespace brix::monitor
