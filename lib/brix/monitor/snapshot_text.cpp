// snapshot_text: the snapshot document, key for key what snapshot_from_json reads back.
#include <brix/monitor/snapshot_text.hpp>

#include <brix/monitor/node_sample.hpp>
#include <brix/monitor/rules.hpp>
#include <brix/util/json_writer.hpp>

#include <unordered_set>

namespace brix::monitor {
namespace {

using util::JsonWriter;

/// An age at `now` of an absolute time, or null when the time is unknown (0).
void age_value(JsonWriter& out, double since, double now) {
  if (since > 0) {
    out.value(now - since);
  } else {
    out.null();
  }
}

void summary_fields(JsonWriter& out, const RankSummary& summary, double now) {
  out.field("ranks", summary.ranks).field("running", summary.running).field("stale", summary.stale);
  out.field("exited", summary.exited).field("waiting", summary.waiting).field("stragglers", summary.stragglers);
  out.field("min_step", summary.min_step).field("max_step", summary.max_step);
  out.optional_field("max_step_seconds", summary.max_step_seconds);
  out.optional_field("max_compute_seconds", summary.max_compute_seconds);
  out.field("worst_rank", summary.worst_rank).field("max_peer_ratio", summary.max_peer_ratio);
  out.field("oldest_report", summary.oldest_report).key("oldest_report_age_seconds");
  age_value(out, summary.oldest_report, now);
  out.field("cpu_percent", summary.cpu_percent).field("rss_bytes", summary.rss_bytes);
}

void node_row(JsonWriter& out, const NodeView& node, double now) {
  out.begin_object().field("node", node.node).field("last_sample", node.last_sample);
  out.field("heartbeat_age_seconds", now - node.last_sample);
  out.field("gpu_available", node.gpu_available).field("gpu_reason", node.gpu_reason).key("gpus").begin_array();
  for (const auto& gpu : node.gpus) {
    write_json(out, gpu);
  }
  out.end_array().field("suspect", node.suspect).field("suspect_reason", node.suspect_reason);
  out.field("rejected_lines", node.rejected_lines).field("last_rejection", node.last_rejection);
  out.key("rank_summary").begin_object();
  summary_fields(out, node.ranks, now);
  out.end_object().end_object();
}

/// A rank's row, split around its heartbeat age (the only field that moves with `now`).
void rank_row(const RankView& rank, std::string& head, std::string& tail) {
  std::string text;
  JsonWriter out(text);
  out.begin_object().field("rank", rank.rank).field("node", rank.node).field("pid", rank.pid);
  out.field("state", rank.state).field("step", rank.step).optional_field("stage", rank.stage);
  out.optional_field("step_seconds", rank.step_seconds).optional_field("compute_seconds", rank.compute_seconds);
  out.field("last_report", rank.last_report).key("heartbeat_age_seconds");
  const auto split_at = text.size();
  out.null();
  const auto tail_at = text.size();
  out.optional_field("cpu_percent", rank.cpu_percent).optional_field("rss_bytes", rank.rss_bytes);
  out.field("cpu_seconds", rank.cpu_seconds).field("peer_ratio", rank.peer_ratio);
  out.field("history_ratio", rank.history_ratio).field("straggler", rank.straggler);
  out.field("straggler_reason", rank.straggler_reason).key("values").begin_object();
  for (const auto& [name, value] : rank.values) {
    out.field(name, value);
  }
  out.end_object().key("recent_steps").begin_array();
  for (const auto& step : rank.recent) {
    out.begin_array().value(step.step).value(step.seconds).value(step.scored_seconds).end_array();
  }
  out.end_array().end_object();
  head.assign(text, 0, split_at);
  tail.assign(text, tail_at);
}

void rule_row(JsonWriter& out, const RuleView& rule) {
  out.begin_object().field("rule", rule.rule).field("metric", rule.metric).field("subject", rule.subject);
  out.field("node", rule.node).optional_field("rank", rule.rank).optional_field("gpu", rule.gpu);
  out.field("state", rule.state).field("value", rule.value).field("since", rule.since).end_object();
}

} // namespace

std::string snapshot_text(const Snapshot& snapshot, double now, int max_ranks, SnapshotTextCache* cache, int max_nodes) {
  std::string text;
  text.reserve(256 + snapshot.ranks.size() * 400 + snapshot.nodes.size() * 600 + snapshot.rules.size() * 160);
  JsonWriter out(text);
  out.begin_object().field("brix_monitor_snapshot", 1).key("job").begin_object();
  out.field("name", snapshot.job).field("time", snapshot.time).field("age_seconds", now - snapshot.time);
  out.field("started", snapshot.started).field("world_size", snapshot.world_size).field("step", snapshot.step);
  out.field("step_median_seconds", snapshot.step_median_seconds);
  if (snapshot.periodic_slowdown_seconds) {
    out.key("periodic_slowdown").begin_object().field("interval_seconds", *snapshot.periodic_slowdown_seconds);
    out.field("node", snapshot.periodic_slowdown_node).end_object();
  }
  out.end_object().key("nodes").begin_array();
  const auto nodes = listed_nodes(snapshot, max_nodes, now);
  for (const auto* node : nodes) {
    out.newline();
    node_row(out, *node, now);
  }
  out.end_array().key("ranks").begin_array();
  const auto listed = listed_ranks(snapshot, max_ranks);
  if (cache != nullptr) {
    cache->m_encoded = cache->m_reused = 0;
  }
  std::string head;
  std::string tail;
  std::string row;
  for (const auto* rank : listed) {
    const std::string* row_head = &head;
    const std::string* row_tail = &tail;
    if (cache != nullptr) {
      auto& cached = cache->m_rows[rank->rank];
      if (cached.head.empty() || !(cached.view == *rank)) {
        cached.view = *rank;
        rank_row(*rank, cached.head, cached.tail);
        ++cache->m_encoded;
      } else {
        ++cache->m_reused;
      }
      row_head = &cached.head;
      row_tail = &cached.tail;
    } else {
      rank_row(*rank, head, tail);
    }
    row.assign(*row_head);
    JsonWriter age(row);
    age_value(age, rank->last_report, now);
    row += *row_tail;
    out.newline().raw(row);
  }
  if (cache != nullptr && cache->m_rows.size() > listed.size()) {
    std::unordered_set<int> present;
    for (const auto* rank : listed) {
      present.insert(rank->rank);
    }
    std::erase_if(cache->m_rows, [&](const auto& entry) { return !present.contains(entry.first); });
  }
  // Summarised (fewer ranks listed than held), only rules not in their normal state are listed:
  // at 2,048 nodes a rule on every GPU is 16,384 rows that say nothing.
  const bool summarised = listed.size() < snapshot.ranks.size();
  out.end_array().key("rules").begin_array();
  std::int64_t rules_listed = 0;
  for (const auto& rule : snapshot.rules) {
    if (summarised && rule.state == state_name(RuleState::normal)) {
      continue;
    }
    ++rules_listed;
    out.newline();
    rule_row(out, rule);
  }
  out.end_array().key("stages").begin_array();
  for (const auto& stage : snapshot.stages) {
    out.newline().begin_object().field("stage", stage.stage).key("ranks").begin_array();
    for (const int rank : stage.ranks) {
      out.value(rank);
    }
    out.end_array().field("steps", stage.steps).field("compute_seconds", stage.compute_seconds);
    out.field("step_seconds", stage.step_seconds).end_object();
  }
  out.end_array().key("events").begin_array();
  for (const auto& event : snapshot.events) {
    auto line = to_json_line(event);
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
    }
    out.newline().raw(line);
  }
  out.end_array().key("event_counts").begin_object();
  for (const auto& [type, count] : snapshot.event_counts) {
    out.field(type, count);
  }
  out.end_object().newline().key("rank_summary").begin_object();
  summary_fields(out, snapshot.rank_summary, now);
  out.field("listed", static_cast<std::int64_t>(listed.size())).end_object();
  int suspects = 0;
  for (const auto& node : snapshot.nodes) {
    suspects += node.suspect ? 1 : 0;
  }
  out.key("node_summary").begin_object().field("nodes", static_cast<std::int64_t>(snapshot.nodes.size()));
  out.field("suspect", suspects).field("listed", static_cast<std::int64_t>(nodes.size())).end_object();
  out.key("rule_summary").begin_object().field("rules", static_cast<std::int64_t>(snapshot.rules.size()));
  out.field("listed", rules_listed).end_object();
  out.key("stage_ranks").begin_array();
  for (const auto& stage : snapshot.stage_ranks) {
    out.newline().begin_object().field("stage", stage.stage);
    summary_fields(out, stage.ranks, now);
    out.end_object();
  }
  out.end_array().end_object();
  text += '\n';
  return text;
}

} // namespace brix::monitor
