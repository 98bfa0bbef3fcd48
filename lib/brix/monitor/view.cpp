#include <brix/monitor/view.hpp>

#include <brix/util/strings.hpp>

#include <algorithm>
#include <tuple>
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

/// Problem nodes first: suspect, then by their worst rank, then the stalest heartbeat.
/// Every rank of the job: the summary counts them all, a snapshot from `SNAPSHOT N` lists the worst N.
std::size_t rank_total(const Snapshot& snapshot) {
  return std::max<std::size_t>(snapshot.ranks.size(), static_cast<std::size_t>(snapshot.rank_summary.ranks));
}

std::string rank_count(const RankSummary& summary) {
  return summary.running == summary.ranks ? std::to_string(summary.ranks)
                                          : fmt::format("{}/{}", summary.running, summary.ranks);
}

std::string worst_text(const RankSummary& summary) {
  return summary.worst_rank >= 0 && summary.max_peer_ratio > 0
             ? fmt::format("{} ({:.2f}x)", summary.worst_rank, summary.max_peer_ratio)
             : "-";
}

std::string node_table(const Snapshot& snapshot, double now, const ViewOptions& options) {
  const auto& style = options.style;
  const auto nodes = listed_nodes(snapshot, options.max_nodes, now);
  Table table({"node", "heartbeat", "ranks", "straggling", "worst rank", "gpus", "util", "fb used", "temp", "power", "xid", "state"},
              {Align::left, Align::right, Align::right, Align::right, Align::right, Align::right, Align::right,
               Align::right, Align::right, Align::right, Align::right, Align::left});
  std::string notes;
  for (const auto* node_view : nodes) {
    const auto& node = *node_view;
    std::vector<std::string> row{node.node, util::human_seconds(now - node.last_sample), rank_count(node.ranks),
                                 node.ranks.stragglers > 0 ? style.yellow(std::to_string(node.ranks.stragglers)) : "0",
                                 worst_text(node.ranks)};
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
  std::string out = table.render(2) + notes;
  if (nodes.size() < snapshot.nodes.size()) {
    int suspects = 0;
    for (const auto& node : snapshot.nodes) {
      suspects += node.suspect ? 1 : 0;
    }
    for (const auto* node : nodes) {
      suspects -= node->suspect ? 1 : 0;
    }
    out += style.dim(fmt::format("  ... {} more nodes ({} suspect; --max-nodes 0 lists all)\n",
                                 snapshot.nodes.size() - nodes.size(), suspects));
  }
  return out;
}

std::string rank_table(const Snapshot& snapshot, double now, const ViewOptions& options) {
  const auto& style = options.style;
  auto ranks = listed_ranks(snapshot, options.max_ranks);
  std::stable_sort(ranks.begin(), ranks.end(),
                   [](const RankView* a, const RankView* b) { return rank_severity(*a) > rank_severity(*b); });
  Table table({"rank", "node", "stage", "step", "step time", "compute", "vs peers", "heartbeat", "cpu", "rss", "state"},
              {Align::right, Align::left, Align::right, Align::right, Align::right, Align::right,
               Align::right, Align::right, Align::right, Align::right, Align::left});
  int problems_shown = 0;
  for (const auto* rank : ranks) {
    problems_shown += rank_severity(*rank) > 0 ? 1 : 0;
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
  const auto total = rank_total(snapshot);
  if (ranks.size() < total) {
    const auto& all = snapshot.rank_summary;
    const int problems = all.exited + all.stale + all.stragglers - problems_shown;
    out += style.dim(problems > 0 ? fmt::format("  ... {} more ranks ({} of them stale, exited or straggling; "
                                                "--max-ranks 0 lists all)\n",
                                                total - ranks.size(), problems)
                                  : fmt::format("  ... {} more ranks, all running and not straggling\n",
                                                total - ranks.size()));
  }
  return out;
}

} // namespace

std::string render_text(const Snapshot& snapshot, double now, const ViewOptions& options) {
  const auto& style = options.style;
  const int stragglers = snapshot.rank_summary.stragglers;
  const int problems = snapshot.rank_summary.exited + snapshot.rank_summary.stale;
  const double age = now - snapshot.time;
  std::string out = style.bold(fmt::format("brix monitor  {}", snapshot.job.empty() ? "(job)" : snapshot.job));
  out += fmt::format("   step {}   median step {}   {} ranks on {} nodes   snapshot {} old\n",
                     snapshot.step >= 0 ? std::to_string(snapshot.step) : "-",
                     snapshot.step_median_seconds > 0 ? util::human_seconds(snapshot.step_median_seconds) : "-",
                     rank_total(snapshot), snapshot.nodes.size(),
                     age > 10 ? style.red(util::human_seconds(age)) : util::human_seconds(age));
  if (stragglers || problems) {
    out += style.yellow(fmt::format("  {} straggler(s), {} rank(s) stale or exited\n", stragglers, problems));
  }
  if (snapshot.periodic_slowdown_seconds) {
    out += style.yellow(fmt::format("  recurring slowdown every {} (from {})\n",
                                    util::human_seconds(*snapshot.periodic_slowdown_seconds),
                                    snapshot.periodic_slowdown_node));
  }
  out += style.bold("Nodes") + "\n" + node_table(snapshot, now, options);
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
  if (!snapshot.stage_ranks.empty()) {
    // Per stage: its ranks summed up, and the measured pace where a step is complete.
    Table stages({"stage", "ranks", "straggling", "worst rank", "steps", "compute", "step time"},
                 {Align::right, Align::right, Align::right, Align::right, Align::right, Align::right, Align::right});
    for (const auto& stage : snapshot.stage_ranks) {
      const auto measured = std::find_if(snapshot.stages.begin(), snapshot.stages.end(),
                                         [&](const StageView& view) { return view.stage == stage.stage; });
      const bool paced = measured != snapshot.stages.end();
      stages.add_row({std::to_string(stage.stage), rank_count(stage.ranks), std::to_string(stage.ranks.stragglers),
                      worst_text(stage.ranks), paced ? std::to_string(measured->steps) : "-",
                      paced ? util::human_seconds(measured->compute_seconds) : "-",
                      paced ? util::human_seconds(measured->step_seconds) : "-"});
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
