#include <brix/monitor/snapshot.hpp>

#include <brix/monitor/json_fields.hpp>
#include <brix/monitor/node_sample.hpp>
#include <brix/monitor/snapshot_text.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>

#include <algorithm>
#include <tuple>
#include <fmt/format.h>

namespace brix::monitor {

std::vector<std::string> rank_state_names() {
  return {std::string(rank_state::running), std::string(rank_state::stale),
          std::string(rank_state::exited), std::string(rank_state::waiting)};
}

int rank_severity(const RankView& rank) {
  if (rank.state == rank_state::exited) {
    return 3;
  }
  if (rank.state == rank_state::stale) {
    return 2;
  }
  return rank.straggler ? 1 : 0;
}

std::tuple<int, double, int> rank_badness(const RankView& rank) {
  return {rank_severity(rank), rank.peer_ratio, -rank.rank};
}

bool worse_rank(const RankView& a, const RankView& b) { return rank_badness(a) > rank_badness(b); }

void RankSummary::add(const RankView& rank) {
  if (const auto key = rank_badness(rank); ranks == 0 || key > m_worst_key) {
    worst_rank = rank.rank;
    m_worst_key = key;
  }
  ++ranks;
  running += rank.state == rank_state::running ? 1 : 0;
  stale += rank.state == rank_state::stale ? 1 : 0;
  exited += rank.state == rank_state::exited ? 1 : 0;
  waiting += rank.state == rank_state::waiting ? 1 : 0;
  stragglers += rank.straggler ? 1 : 0;
  if (rank.step >= 0) {
    min_step = min_step < 0 ? rank.step : std::min(min_step, rank.step);
    max_step = std::max(max_step, rank.step);
  }
  if (rank.step_seconds) {
    max_step_seconds = std::max(max_step_seconds.value_or(*rank.step_seconds), *rank.step_seconds);
  }
  if (rank.compute_seconds) {
    max_compute_seconds = std::max(max_compute_seconds.value_or(*rank.compute_seconds), *rank.compute_seconds);
  }
  max_peer_ratio = std::max(max_peer_ratio, rank.peer_ratio);
  if (rank.last_report > 0) {
    oldest_report = oldest_report > 0 ? std::min(oldest_report, rank.last_report) : rank.last_report;
  }
  cpu_percent += rank.cpu_percent.value_or(0);
  rss_bytes += rank.rss_bytes.value_or(0);
}

void summarise(Snapshot& snapshot) {
  std::map<std::string, RankSummary*> nodes;
  for (auto& node : snapshot.nodes) {
    node.ranks = {};
    nodes[node.node] = &node.ranks;
  }
  snapshot.rank_summary = {};
  std::map<int, RankSummary> stages;
  for (const auto& rank : snapshot.ranks) {
    snapshot.rank_summary.add(rank);
    if (const auto node = nodes.find(rank.node); node != nodes.end()) {
      node->second->add(rank);
    }
    if (rank.stage) {
      stages[*rank.stage].add(rank);
    }
  }
  snapshot.stage_ranks.clear();
  for (const auto& [stage, summary] : stages) {
    snapshot.stage_ranks.push_back({stage, summary});
  }
}

std::vector<const RankView*> listed_ranks(const Snapshot& snapshot, int max_ranks) {
  std::vector<const RankView*> ranks;
  ranks.reserve(snapshot.ranks.size());
  for (const auto& rank : snapshot.ranks) {
    ranks.push_back(&rank);
  }
  if (max_ranks > 0 && ranks.size() > static_cast<std::size_t>(max_ranks)) {
    const auto keep = ranks.begin() + max_ranks;
    std::partial_sort(ranks.begin(), keep, ranks.end(),
                      [](const RankView* a, const RankView* b) { return worse_rank(*a, *b); });
    ranks.erase(keep, ranks.end());
  }
  return ranks;
}

std::vector<const NodeView*> listed_nodes(const Snapshot& snapshot, int max_nodes, double now) {
  std::vector<const NodeView*> nodes;
  nodes.reserve(snapshot.nodes.size());
  for (const auto& node : snapshot.nodes) {
    nodes.push_back(&node);
  }
  if (max_nodes > 0 && nodes.size() > static_cast<std::size_t>(max_nodes)) {
    const auto badness = [now](const NodeView& node) {
      return std::tuple(node.suspect, node.ranks.exited + node.ranks.stale, node.ranks.stragglers, now - node.last_sample);
    };
    const auto keep = nodes.begin() + max_nodes;
    std::partial_sort(nodes.begin(), keep, nodes.end(),
                      [&](const NodeView* a, const NodeView* b) { return badness(*a) > badness(*b); });
    nodes.erase(keep, nodes.end());
  }
  return nodes;
}

nlohmann::ordered_json to_json(const Snapshot& snapshot, double now, int max_ranks, int max_nodes) {
  return nlohmann::ordered_json::parse(snapshot_text(snapshot, now, max_ranks, nullptr, max_nodes));
}

namespace {

RankSummary summary_from_json(const nlohmann::json& in) {
  RankSummary summary;
  summary.ranks = in.value("ranks", 0);
  summary.running = in.value("running", 0);
  summary.stale = in.value("stale", 0);
  summary.exited = in.value("exited", 0);
  summary.waiting = in.value("waiting", 0);
  summary.stragglers = in.value("stragglers", 0);
  summary.min_step = in.value("min_step", std::int64_t{-1});
  summary.max_step = in.value("max_step", std::int64_t{-1});
  take_optional(in, "max_step_seconds", summary.max_step_seconds);
  take_optional(in, "max_compute_seconds", summary.max_compute_seconds);
  summary.worst_rank = in.value("worst_rank", -1);
  summary.max_peer_ratio = in.value("max_peer_ratio", 0.0);
  summary.oldest_report = in.value("oldest_report", 0.0);
  summary.cpu_percent = in.value("cpu_percent", 0.0);
  summary.rss_bytes = in.value("rss_bytes", std::uint64_t{0});
  return summary;
}

} // namespace

Snapshot snapshot_from_json(const nlohmann::json& in, const std::string& source) {
  try {
    Snapshot snapshot;
    const auto& job = in.at("job");
    snapshot.job = job.value("name", "");
    snapshot.time = job.at("time").get<double>();
    snapshot.started = job.value("started", 0.0);
    snapshot.world_size = job.value("world_size", 0);
    snapshot.step = job.value("step", std::int64_t{-1});
    snapshot.step_median_seconds = job.value("step_median_seconds", 0.0);
    if (const auto it = job.find("periodic_slowdown"); it != job.end()) {
      snapshot.periodic_slowdown_seconds = it->at("interval_seconds").get<double>();
      snapshot.periodic_slowdown_node = it->value("node", "");
    }
    for (const auto& item : in.at("nodes")) {
      NodeView node;
      node.node = item.at("node").get<std::string>();
      node.last_sample = item.value("last_sample", 0.0);
      node.gpu_available = item.value("gpu_available", false);
      node.gpu_reason = item.value("gpu_reason", "");
      for (const auto& gpu : item.value("gpus", nlohmann::json::array())) {
        node.gpus.push_back(gpu_from_json(gpu));
      }
      node.suspect = item.value("suspect", false);
      node.suspect_reason = item.value("suspect_reason", "");
      node.rejected_lines = item.value("rejected_lines", std::uint64_t{0});
      node.last_rejection = item.value("last_rejection", "");
      snapshot.nodes.push_back(std::move(node));
    }
    for (const auto& item : in.at("ranks")) {
      RankView rank;
      rank.rank = item.at("rank").get<int>();
      rank.node = item.value("node", "");
      rank.pid = item.value("pid", 0);
      rank.state = item.value("state", std::string(rank_state::waiting));
      rank.step = item.value("step", std::int64_t{-1});
      take_optional(item, "stage", rank.stage);
      take_optional(item, "step_seconds", rank.step_seconds);
      take_optional(item, "compute_seconds", rank.compute_seconds);
      rank.last_report = item.value("last_report", 0.0);
      take_optional(item, "cpu_percent", rank.cpu_percent);
      take_optional(item, "rss_bytes", rank.rss_bytes);
      rank.cpu_seconds = item.value("cpu_seconds", 0.0);
      rank.peer_ratio = item.value("peer_ratio", 1.0);
      rank.history_ratio = item.value("history_ratio", 1.0);
      rank.straggler = item.value("straggler", false);
      rank.straggler_reason = item.value("straggler_reason", "");
      const auto values = item.value("values", nlohmann::json::object());
      for (const auto& [key, value] : values.items()) {
        rank.values.emplace_back(key, value.get<double>());
      }
      for (const auto& step : item.value("recent_steps", nlohmann::json::array())) {
        rank.recent.push_back({step.at(0).get<std::int64_t>(), step.at(1).get<double>(), step.at(2).get<double>()});
      }
      snapshot.ranks.push_back(std::move(rank));
    }
    for (const auto& item : in.at("rules")) {
      RuleView rule;
      rule.rule = item.at("rule").get<std::string>();
      rule.metric = item.value("metric", "");
      rule.subject = item.value("subject", "");
      rule.node = item.value("node", "");
      take_optional(item, "rank", rule.rank);
      take_optional(item, "gpu", rule.gpu);
      rule.state = item.value("state", "normal");
      rule.value = item.value("value", 0.0);
      rule.since = item.value("since", 0.0);
      snapshot.rules.push_back(std::move(rule));
    }
    for (const auto& item : in.at("stages")) {
      StageView stage;
      stage.stage = item.at("stage").get<int>();
      stage.ranks = item.value("ranks", std::vector<int>{});
      stage.steps = item.value("steps", std::int64_t{0});
      stage.compute_seconds = item.value("compute_seconds", 0.0);
      stage.step_seconds = item.value("step_seconds", 0.0);
      snapshot.stages.push_back(std::move(stage));
    }
    for (const auto& item : in.at("events")) {
      snapshot.events.push_back(parse_event_line(item.dump(), source, 0));
    }
    const auto counts = in.value("event_counts", nlohmann::json::object());
    for (const auto& [type, count] : counts.items()) {
      snapshot.event_counts[type] = count.get<std::uint64_t>();
    }
    // Written by an endpoint older than the summaries: they are computed from the ranks.
    if (!in.contains("rank_summary")) {
      summarise(snapshot);
      return snapshot;
    }
    snapshot.rank_summary = summary_from_json(in.at("rank_summary"));
    for (std::size_t i = 0; i < snapshot.nodes.size(); ++i) {
      snapshot.nodes[i].ranks = summary_from_json(in.at("nodes").at(i).value("rank_summary", nlohmann::json::object()));
    }
    for (const auto& item : in.value("stage_ranks", nlohmann::json::array())) {
      snapshot.stage_ranks.push_back({item.at("stage").get<int>(), summary_from_json(item)});
    }
    return snapshot;
  } catch (const nlohmann::json::exception& error) {
    throw InputError(fmt::format("{}: malformed monitor snapshot: {}", source, error.what()));
  }
}

Snapshot read_snapshot_file(const std::string& path) {
  std::string why;
  const auto text = util::read_regular_file(path, why);
  if (!text) {
    throw InputError(fmt::format("{}: no monitor snapshot: {} (expected a job directory whose monitor "
                                 "endpoint is running; see 'brix monitor --help')", path, why));
  }
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& error) {
    throw InputError(fmt::format("{}: malformed monitor snapshot: {}", path, error.what()));
  }
  return snapshot_from_json(document, path);
}

plan::MeasuredStages measured_stages(const Snapshot& snapshot) {
  return plan::MeasuredStages{snapshot.job, snapshot.time, snapshot.world_size, snapshot.stages};
}

void write_measured_stages(const std::string& path, const Snapshot& snapshot) {
  util::write_file_atomically(path, plan::measured_stages_yaml(measured_stages(snapshot)),
                              {.failure = util::WriteFailure::job_error});
}

} // namespace brix::monitor
