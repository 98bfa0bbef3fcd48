#include <brix/monitor/snapshot.hpp>

#include <brix/monitor/json_fields.hpp>
#include <brix/monitor/node_sample.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>

#include <fmt/format.h>

namespace brix::monitor {

std::vector<std::string> rank_state_names() {
  return {std::string(rank_state::running), std::string(rank_state::stale),
          std::string(rank_state::exited), std::string(rank_state::waiting)};
}

namespace {
using Json = nlohmann::ordered_json;

Json event_json(const Event& event) { return Json::parse(to_json_line(event)); }
} // namespace

nlohmann::ordered_json to_json(const Snapshot& snapshot, double now) {
  Json nodes = Json::array();
  for (const auto& node : snapshot.nodes) {
    Json gpus = Json::array();
    for (const auto& gpu : node.gpus) {
      gpus.push_back(Json::parse(to_json(gpu).dump()));
    }
    nodes.push_back({{"node", node.node},
                     {"last_sample", node.last_sample},
                     {"heartbeat_age_seconds", now - node.last_sample},
                     {"gpu_available", node.gpu_available},
                     {"gpu_reason", node.gpu_reason},
                     {"gpus", std::move(gpus)},
                     {"suspect", node.suspect},
                     {"suspect_reason", node.suspect_reason},
                     {"rejected_lines", node.rejected_lines},
                     {"last_rejection", node.last_rejection}});
  }
  Json ranks = Json::array();
  for (const auto& rank : snapshot.ranks) {
    Json item{{"rank", rank.rank}, {"node", rank.node}, {"pid", rank.pid}, {"state", rank.state},
              {"step", rank.step}};
    put_optional(item, "stage", rank.stage);
    put_optional(item, "step_seconds", rank.step_seconds);
    put_optional(item, "compute_seconds", rank.compute_seconds);
    item["last_report"] = rank.last_report;
    item["heartbeat_age_seconds"] = rank.last_report > 0 ? Json(now - rank.last_report) : Json();
    put_optional(item, "cpu_percent", rank.cpu_percent);
    put_optional(item, "rss_bytes", rank.rss_bytes);
    item["cpu_seconds"] = rank.cpu_seconds;
    item["peer_ratio"] = rank.peer_ratio;
    item["history_ratio"] = rank.history_ratio;
    item["straggler"] = rank.straggler;
    item["straggler_reason"] = rank.straggler_reason;
    Json values = Json::object();
    for (const auto& [key, value] : rank.values) {
      values[key] = value;
    }
    item["values"] = std::move(values);
    Json recent = Json::array();
    for (const auto& step : rank.recent) {
      recent.push_back(Json::array({step.step, step.seconds, step.scored_seconds}));
    }
    item["recent_steps"] = std::move(recent);
    ranks.push_back(std::move(item));
  }
  Json rules = Json::array();
  for (const auto& rule : snapshot.rules) {
    Json item{{"rule", rule.rule}, {"metric", rule.metric}, {"subject", rule.subject}, {"node", rule.node}};
    put_optional(item, "rank", rule.rank);
    put_optional(item, "gpu", rule.gpu);
    item["state"] = rule.state;
    item["value"] = rule.value;
    item["since"] = rule.since;
    rules.push_back(std::move(item));
  }
  Json stages = Json::array();
  for (const auto& stage : snapshot.stages) {
    stages.push_back({{"stage", stage.stage}, {"ranks", stage.ranks}, {"steps", stage.steps},
                      {"compute_seconds", stage.compute_seconds}, {"step_seconds", stage.step_seconds}});
  }
  Json events = Json::array();
  for (const auto& event : snapshot.events) {
    events.push_back(event_json(event));
  }
  Json job{{"name", snapshot.job}, {"time", snapshot.time}, {"age_seconds", now - snapshot.time},
           {"started", snapshot.started}, {"world_size", snapshot.world_size}, {"step", snapshot.step},
           {"step_median_seconds", snapshot.step_median_seconds}};
  if (snapshot.periodic_slowdown_seconds) {
    job["periodic_slowdown"] = {{"interval_seconds", *snapshot.periodic_slowdown_seconds},
                                {"node", snapshot.periodic_slowdown_node}};
  }
  Json counts = Json::object();
  for (const auto& [type, count] : snapshot.event_counts) {
    counts[type] = count;
  }
  return {{"brix_monitor_snapshot", 1}, {"job", std::move(job)}, {"nodes", std::move(nodes)},
          {"ranks", std::move(ranks)}, {"rules", std::move(rules)}, {"stages", std::move(stages)},
          {"events", std::move(events)}, {"event_counts", std::move(counts)}};
}

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
