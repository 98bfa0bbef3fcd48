#include <brix/monitor/view.hpp>

#include <brix/util/strings.hpp>

#include <algorithm>
#include <ctime>
#include <fmt/format.h>

namespace brix::monitor {

namespace {
using util::Align;
using util::Table;

std::string seconds_or_dash(const std::optional<double>& value) {
  return value ? util::human_seconds(*value) : "-";
}

std::string memory(std::uint64_t bytes) {
  return bytes >= (1ULL << 30) ? util::gib(static_cast<double>(bytes))
                               : fmt::format("{:.0f} MiB", static_cast<double>(bytes) / (1 << 20));
}

std::string clock_time(double unix_seconds) {
  const auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm local{};
  ::localtime_r(&seconds, &local);
  char text[16];
  std::strftime(text, sizeof(text), "%H:%M:%S", &local);
  return text;
}

/// 0 for healthy ranks, higher for worse, so that problems come first.
int severity(const RankView& rank) {
  if (rank.state == rank_state::exited) {
    return 3;
  }
  if (rank.state == rank_state::stale) {
    return 2;
  }
  return rank.straggler ? 1 : 0;
}

std::string node_table(const Snapshot& snapshot, double now, const util::Style& style) {
  Table table({"node", "heartbeat", "gpus", "util", "fb used", "temp", "power", "xid", "state"},
              {Align::left, Align::right, Align::right, Align::right, Align::right, Align::right,
               Align::right, Align::right, Align::left});
  std::string notes;
  for (const auto& node : snapshot.nodes) {
    std::vector<std::string> row{node.node, util::human_seconds(now - node.last_sample)};
    if (!node.gpu_available) {
      row.insert(row.end(), {"n/a", "-", "-", "-", "-", "-"});
      notes += style.dim(fmt::format("  {}: GPU figures unavailable ({})\n", node.node, node.gpu_reason));
    } else {
      double util_sum = 0, used = 0, power = 0, temp = 0;
      int util_count = 0;
      std::uint64_t xids = 0;
      for (const auto& gpu : node.gpus) {
        if (gpu.utilization_percent) {
          util_sum += *gpu.utilization_percent;
          ++util_count;
        }
        used += gpu.memory_used_mib.value_or(0);
        power += gpu.power_w.value_or(0);
        temp = std::max(temp, gpu.temperature_c.value_or(0));
        xids += gpu.xid_count;
      }
      row.push_back(std::to_string(node.gpus.size()));
      row.push_back(util_count ? fmt::format("{:.0f}%", util_sum / util_count) : "-");
      row.push_back(memory(static_cast<std::uint64_t>(used * 1024 * 1024)));
      row.push_back(fmt::format("{:.0f} C", temp));
      row.push_back(fmt::format("{:.0f} W", power));
      row.push_back(xids ? style.red(std::to_string(xids)) : "0");
    }
    row.push_back(node.suspect ? style.red("SUSPECT: " + node.suspect_reason) : style.green("ok"));
    table.add_row(std::move(row));
    if (node.rejected_lines > 0) {
      notes += style.yellow(fmt::format("  {}: {} malformed report lines, last: {}\n", node.node,
                                        node.rejected_lines, node.last_rejection));
    }
  }
  return table.render(2) + notes;
}

std::string rank_table(const Snapshot& snapshot, double now, const ViewOptions& options) {
  const auto& style = options.style;
  std::vector<const RankView*> ranks;
  for (const auto& rank : snapshot.ranks) {
    ranks.push_back(&rank);
  }
  std::stable_sort(ranks.begin(), ranks.end(),
                   [](const RankView* a, const RankView* b) { return severity(*a) > severity(*b); });
  Table table({"rank", "node", "stage", "step", "step time", "compute", "vs peers", "heartbeat", "cpu", "rss", "state"},
              {Align::right, Align::left, Align::right, Align::right, Align::right, Align::right,
               Align::right, Align::right, Align::right, Align::right, Align::left});
  std::size_t shown = 0;
  for (const auto* rank : ranks) {
    if (options.max_ranks > 0 && shown >= static_cast<std::size_t>(options.max_ranks)) {
      break;
    }
    ++shown;
    std::string state = rank->state == rank_state::exited || rank->state == rank_state::stale
                            ? style.red(rank->state)
                            : rank->state;
    if (rank->straggler) {
      state += " " + style.yellow(fmt::format("STRAGGLER ({})", rank->straggler_reason));
    }
    table.add_row({std::to_string(rank->rank), rank->node, rank->stage ? std::to_string(*rank->stage) : "-",
                   rank->step >= 0 ? std::to_string(rank->step) : "-", seconds_or_dash(rank->step_seconds),
                   seconds_or_dash(rank->compute_seconds), fmt::format("{:.2f}x", rank->peer_ratio),
                   rank->last_report > 0 ? util::human_seconds(now - rank->last_report) : "-",
                   rank->cpu_percent ? fmt::format("{:.0f}%", *rank->cpu_percent) : "-",
                   rank->rss_bytes ? memory(*rank->rss_bytes) : "-", state});
  }
  std::string out = table.render(2);
  if (shown < ranks.size()) {
    out += style.dim(fmt::format("  ... {} more ranks, all running and not straggling\n", ranks.size() - shown));
  }
  return out;
}

} // namespace

std::string render_text(const Snapshot& snapshot, double now, const ViewOptions& options) {
  const auto& style = options.style;
  int stragglers = 0;
  int problems = 0;
  for (const auto& rank : snapshot.ranks) {
    stragglers += rank.straggler ? 1 : 0;
    problems += rank.state == rank_state::exited || rank.state == rank_state::stale ? 1 : 0;
  }
  const double age = now - snapshot.time;
  std::string out = style.bold(fmt::format("brix monitor  {}", snapshot.job.empty() ? "(job)" : snapshot.job));
  out += fmt::format("   step {}   median step {}   {} ranks on {} nodes   snapshot {} old\n",
                     snapshot.step >= 0 ? std::to_string(snapshot.step) : "-",
                     snapshot.step_median_seconds > 0 ? util::human_seconds(snapshot.step_median_seconds) : "-",
                     snapshot.ranks.size(), snapshot.nodes.size(),
                     age > 10 ? style.red(util::human_seconds(age)) : util::human_seconds(age));
  if (stragglers || problems) {
    out += style.yellow(fmt::format("  {} straggler(s), {} rank(s) stale or exited\n", stragglers, problems));
  }
  if (snapshot.periodic_slowdown_seconds) {
    out += style.yellow(fmt::format("  recurring slowdown every {} (from {})\n",
                                    util::human_seconds(*snapshot.periodic_slowdown_seconds),
                                    snapshot.periodic_slowdown_node));
  }
  out += style.bold("Nodes") + "\n" + node_table(snapshot, now, style);
  out += style.bold("Ranks") + "\n" + rank_table(snapshot, now, options);
  Table rules({"rule", "subject", "state", "value", "since"});
  for (const auto& rule : snapshot.rules) {
    if (rule.state != "normal") {
      rules.add_row({rule.rule, rule.subject, rule.state == "abnormal" ? style.red(rule.state) : style.yellow(rule.state),
                     fmt::format("{:.4g}", rule.value), clock_time(rule.since)});
    }
  }
  out += style.bold("Rules") + fmt::format(" ({} watched, {} not normal)\n", snapshot.rules.size(), rules.rows());
  if (rules.rows() > 0) {
    out += rules.render(2);
  }
  if (!snapshot.stages.empty()) {
    Table stages({"stage", "ranks", "steps", "compute", "step time"},
                 {Align::right, Align::right, Align::right, Align::right, Align::right});
    for (const auto& stage : snapshot.stages) {
      stages.add_row({std::to_string(stage.stage), std::to_string(stage.ranks.size()), std::to_string(stage.steps),
                      util::human_seconds(stage.compute_seconds), util::human_seconds(stage.step_seconds)});
    }
    out += style.bold("Stages") + "\n" + stages.render(2);
  }
  out += style.bold("Recent events") + "\n";
  const auto first = snapshot.events.size() > static_cast<std::size_t>(options.max_events)
                         ? snapshot.events.size() - static_cast<std::size_t>(options.max_events)
                         : 0;
  for (auto i = first; i < snapshot.events.size(); ++i) {
    const auto& event = snapshot.events[i];
    out += fmt::format("  {}  {:<17} {}\n", clock_time(event.time), event.type, event.message);
  }
  return out;
}

} // namespace brix::monitor
