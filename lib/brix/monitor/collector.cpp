#include <brix/monitor/collector.hpp>

#include <brix/monitor/report_protocol.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::monitor {

NodeCollector::NodeCollector(std::string node, const ProcessStats& processes, GpuSource& gpus,
                             const Clock& clock)
    : m_node(std::move(node)), m_processes(processes), m_gpus(gpus), m_clock(clock) {}

void NodeCollector::expect_rank(int rank, int pid) {
  auto& entry = m_ranks[rank];
  entry.sample.rank = rank;
  entry.sample.pid = pid;
}

void NodeCollector::ingest(std::string_view text, int pid) {
  const double now = m_clock.now();
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const auto line = text.substr(start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      continue;
    }
    auto parsed = parse_report(line);
    if (!parsed.report) {
      ++m_rejected;
      m_last_rejection =
          fmt::format("{} (pid {}): {}", parsed.error, pid, util::printable(line.substr(0, 200)));
      continue;
    }
    const auto& report = *parsed.report;
    auto& rank = m_ranks[report.rank].sample;
    rank.rank = report.rank;
    if (pid > 0) {
      rank.pid = pid;
    }
    rank.last_report = now;
    rank.alive = true;
    if (report.stage) {
      rank.stage = report.stage;
    }
    for (const auto& [key, value] : report.values) {
      bool found = false;
      for (auto& [seen, stored] : rank.values) {
        if (seen == key) {
          stored = value;
          found = true;
        }
      }
      if (!found) {
        rank.values.emplace_back(key, value);
      }
    }
    if (!report.step) {
      continue; // a heartbeat
    }
    rank.step = *report.step;
    rank.step_seconds = report.step_seconds;
    rank.compute_seconds = report.compute_seconds;
    if (report.step_seconds) {
      if (m_steps.size() >= k_max_buffered_steps) {
        m_steps.pop_front();
        ++m_dropped_steps;
      }
      m_steps.push_back({report.rank, *report.step, *report.step_seconds, report.compute_seconds, now});
    }
  }
}

NodeSample NodeCollector::sample() {
  const double now = m_clock.now();
  NodeSample out;
  out.node = m_node;
  out.time = now;
  for (auto& [number, rank] : m_ranks) {
    auto& sample = rank.sample;
    if (sample.pid > 0) {
      if (const auto process = m_processes.sample(sample.pid)) {
        sample.alive = true;
        sample.rss_bytes = process->rss_bytes;
        sample.cpu_seconds = process->cpu_seconds;
        if (rank.cpu_seconds_before >= 0 && now > rank.cpu_time_before) {
          sample.cpu_percent = 100.0 * (process->cpu_seconds - rank.cpu_seconds_before) /
                               (now - rank.cpu_time_before);
        }
        rank.cpu_seconds_before = process->cpu_seconds;
        rank.cpu_time_before = now;
      } else {
        sample.alive = false;
        sample.cpu_percent.reset();
        sample.rss_bytes.reset();
      }
    }
    out.ranks.push_back(sample);
  }
  out.steps.assign(m_steps.begin(), m_steps.end());
  m_steps.clear();
  out.gpus = m_gpus.read();
  out.rejected_lines = m_rejected;
  out.last_rejection = m_last_rejection;
  return out;
}

} // namespace brix::monitor
