// The Grafana dashboard for brix's /metrics: panels laid out on Grafana's 24-column grid, each
// query built from metric family names checked against metric_families().
#include <brix/monitor/grafana.hpp>

#include <brix/monitor/prometheus.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>

namespace brix::monitor {

namespace {

using Json = nlohmann::ordered_json;

/// A family of the exposition, by name; a name it does not serve is a bug here, not input.
std::string metric(std::string_view name) {
  for (const auto& family : metric_families()) {
    if (family.name == name) {
      return std::string(name);
    }
  }
  throw std::logic_error(fmt::format("grafana dashboard names '{}', which /metrics does not serve", name));
}

const Json k_datasource{{"type", "prometheus"}, {"uid", "${datasource}"}};
constexpr std::string_view k_job = R"(brix_job=~"$job")";
constexpr std::string_view k_node = R"(node=~"$node")";

Json target(const std::string& expression, std::string_view legend, char ref, bool instant = false) {
  Json out{{"datasource", k_datasource}, {"expr", expression}, {"legendFormat", std::string(legend)}, {"refId", std::string(1, ref)}};
  if (instant) {
    out["instant"] = true;
    out["range"] = false;
    out["format"] = "table";
  }
  return out;
}

struct Grid {
  int x, y, w, h;
};

Json thresholds(std::initializer_list<std::pair<double, std::string_view>> steps) {
  Json list = Json::array({{{"color", "green"}, {"value", nullptr}}});
  for (const auto& [value, colour] : steps) {
    list.push_back({{"color", std::string(colour)}, {"value", value}});
  }
  return {{"mode", "absolute"}, {"steps", list}};
}

class Builder {
public:
  Json& add(std::string_view type, std::string_view title, Grid grid, Json targets, std::string_view unit = "",
            std::string_view description = "") {
    Json panel{{"id", ++m_id},
               {"type", std::string(type)},
               {"title", std::string(title)},
               {"datasource", k_datasource},
               {"gridPos", {{"x", grid.x}, {"y", grid.y}, {"w", grid.w}, {"h", grid.h}}},
               {"targets", std::move(targets)},
               {"fieldConfig", {{"defaults", Json::object()}, {"overrides", Json::array()}}},
               {"options", Json::object()}};
    if (!unit.empty()) {
      panel["fieldConfig"]["defaults"]["unit"] = std::string(unit);
    }
    if (!description.empty()) {
      panel["description"] = std::string(description);
    }
    m_panels.push_back(std::move(panel));
    return m_panels.back();
  }
  void row(std::string_view title, int y) {
    m_panels.push_back({{"id", ++m_id}, {"type", "row"}, {"title", std::string(title)}, {"collapsed", false},
                        {"gridPos", {{"x", 0}, {"y", y}, {"w", 24}, {"h", 1}}}, {"panels", Json::array()}});
  }
  [[nodiscard]] Json panels() const { return m_panels; }

private:
  int m_id = 0;
  Json m_panels = Json::array();
};

Json variable_query(std::string_view name, std::string_view label, const std::string& query, bool all) {
  Json out{{"name", std::string(name)},
           {"label", std::string(label)},
           {"type", "query"},
           {"datasource", k_datasource},
           {"query", {{"query", query}, {"refId", fmt::format("{}-values", name)}}},
           {"definition", query},
           {"refresh", 2},
           {"sort", 1},
           {"includeAll", all},
           {"multi", all},
           {"hide", 0}};
  if (all) {
    out["allValue"] = ".*";
    out["current"] = {{"selected", true}, {"text", "All"}, {"value", "$__all"}};
  }
  return out;
}

} // namespace

Json grafana_dashboard() {
  Builder b;
  const auto job = std::string(k_job);
  const auto node = std::string(k_node);
  const auto where = fmt::format("{{{}}}", job);
  const auto where_node = fmt::format("{{{}, {}}}", job, node);
  const auto gpu_where = fmt::format("{{{}, Hostname=~\"$node\"}}", job);

  b.row("Job", 0);
  b.add("stat", "Step", {0, 1, 4, 4}, Json::array({target(fmt::format("max({}{})", metric("brix_job_step"), where), "step", 'A')}),
        "none", "Lowest step completed by every running rank.");
  b.add("stat", "Ranks", {4, 1, 4, 4},
        Json::array({target(fmt::format("max({}{})", metric("brix_job_world_size"), where), "ranks", 'A')}), "none");
  b.add("stat", "Median step time", {8, 1, 4, 4},
        Json::array({target(fmt::format("max({}{})", metric("brix_job_step_median_seconds"), where), "median", 'A')}), "s");
  b.add("stat", "Steps per second", {12, 1, 4, 4},
        Json::array({target(fmt::format("sum(rate({}{}[$__rate_interval]))", metric("brix_job_step"), where), "steps/s", 'A')}),
        "none");
  auto& stragglers = b.add("stat", "Stragglers", {16, 1, 4, 4},
                           Json::array({target(fmt::format("sum({}{})", metric("brix_straggler"), where), "stragglers", 'A')}),
                           "none", "Ranks flagged slower than their peers or their own history.");
  stragglers["fieldConfig"]["defaults"]["thresholds"] = thresholds({{1, "red"}});
  auto& suspects = b.add("stat", "Suspect nodes", {20, 1, 4, 4},
                         Json::array({target(fmt::format("sum({}{})", metric("brix_node_suspect"), where), "suspect", 'A')}),
                         "none", "Nodes a rule marked suspect: brix recover excludes them.");
  suspects["fieldConfig"]["defaults"]["thresholds"] = thresholds({{1, "red"}});

  b.add("timeseries", "Compute time per rank", {0, 5, 12, 9},
        Json::array({target(fmt::format("{}{}", metric("brix_step_compute_seconds"), where_node), "rank {{rank}} ({{node}})", 'A')}),
        "s", "Time of each rank's last step before it waits in the gradient collective: a slow rank stands out here.");
  auto& ratio = b.add("status-history", "Step time over the peers' median, per rank", {12, 5, 12, 9},
                      Json::array({target(fmt::format("{}{}", metric("brix_step_peer_ratio"), where_node), "rank {{rank}}", 'A')}),
                      "none", "1 is the median rank; brix flags a rank above 1.15 for 5 steps.");
  ratio["fieldConfig"]["defaults"]["thresholds"] = thresholds({{1.15, "orange"}, {1.5, "red"}});
  ratio["fieldConfig"]["defaults"]["color"] = {{"mode", "thresholds"}};
  ratio["options"] = {{"showValue", "never"}, {"rowHeight", 0.9}};

  b.add("timeseries", "Throughput", {0, 14, 12, 8},
        Json::array({target(fmt::format("sum by (brix_job) (rate({0}{1}[$__rate_interval])) * on (brix_job) "
                                        "max by (brix_job) ({2}{{{3}, name=\"tokens\"}})",
                                        metric("brix_job_step"), where, metric("brix_rank_value"), job),
                            "tokens/s", 'A'),
                     target(fmt::format("sum by (brix_job) (rate({}{}[$__rate_interval]))", metric("brix_job_step"), where),
                            "steps/s", 'B')}),
        "none", "Steps per second, and tokens per second where the ranks report tokens per step.");
  auto& flagged = b.add("state-timeline", "Stragglers over time", {12, 14, 12, 8},
                        Json::array({target(fmt::format("{}{}", metric("brix_straggler"), where_node), "rank {{rank}}", 'A')}),
                        "none");
  flagged["fieldConfig"]["defaults"]["thresholds"] = thresholds({{1, "red"}});
  flagged["fieldConfig"]["defaults"]["color"] = {{"mode", "thresholds"}};

  b.row("Nodes and GPUs", 22);
  b.add("timeseries", "Heartbeat age", {0, 23, 8, 8},
        Json::array({target(fmt::format("{}{}", metric("brix_node_heartbeat_age_seconds"), where_node), "{{node}} collector", 'A'),
                     target(fmt::format("max by (node) ({}{})", metric("brix_heartbeat_age_seconds"), where_node),
                            "{{node}} slowest rank", 'B')}),
        "s");
  b.add("timeseries", "GPU utilisation", {8, 23, 8, 8},
        Json::array({target(fmt::format("{}{}", metric("DCGM_FI_DEV_GPU_UTIL"), gpu_where), "{{Hostname}} gpu {{gpu}}", 'A')}),
        "percent");
  b.add("timeseries", "GPU temperature", {16, 23, 8, 8},
        Json::array({target(fmt::format("{}{}", metric("DCGM_FI_DEV_GPU_TEMP"), gpu_where), "{{Hostname}} gpu {{gpu}}", 'A')}),
        "celsius");
  b.add("timeseries", "GPU memory used", {0, 31, 8, 8},
        Json::array({target(fmt::format("{}{}", metric("DCGM_FI_DEV_FB_USED"), gpu_where), "{{Hostname}} gpu {{gpu}}", 'A')}),
        "mbytes");
  b.add("timeseries", "GPU power", {8, 31, 8, 8},
        Json::array({target(fmt::format("{}{}", metric("DCGM_FI_DEV_POWER_USAGE"), gpu_where), "{{Hostname}} gpu {{gpu}}", 'A')}),
        "watt");
  b.add("table", "XID errors", {16, 31, 8, 8},
        Json::array({target(fmt::format("{}{} > 0", metric("brix_gpu_xid_errors_total"), gpu_where), "", 'A', true),
                     target(fmt::format("{}{} > 0", metric("DCGM_FI_DEV_XID_ERRORS"), gpu_where), "", 'B', true)}),
        "none", "Critical XID events per GPU since monitoring started, and the last XID's value.");

  b.row("Rules, stages and events", 39);
  b.add("table", "Rules not normal", {0, 40, 12, 8},
        Json::array({target(fmt::format("{}{{{}, state!=\"normal\"}} == 1", metric("brix_rule_state"), job), "", 'A', true)}),
        "none", "Rule states (configs/monitor/rules.yaml) in warning or abnormal.");
  b.add("timeseries", "Rule values", {12, 40, 12, 8},
        Json::array({target(fmt::format("{}{}", metric("brix_rule_value"), where), "{{rule}} {{node}} {{rank}}", 'A')}), "none");
  b.add("timeseries", "Stage compute time", {0, 48, 12, 8},
        Json::array({target(fmt::format("{}{}", metric("brix_stage_compute_seconds"), where), "stage {{stage}}", 'A')}), "s",
        "Median over recent steps of each pipeline stage's slowest compute time (brix plan --measured reads it).");
  b.add("timeseries", "Events", {12, 48, 12, 8},
        Json::array({target(fmt::format("sum by (type) (increase({}{}[$__rate_interval]))", metric("brix_events_total"), where),
                            "{{type}}", 'A')}),
        "none");

  Json templating = Json::array();
  templating.push_back({{"name", "datasource"}, {"label", "Data source"}, {"type", "datasource"}, {"query", "prometheus"},
                        {"hide", 0}, {"current", Json::object()}});
  templating.push_back(
      variable_query("job", "brix job", fmt::format("label_values({}, brix_job)", metric("brix_job_world_size")), false));
  templating.push_back(variable_query(
      "node", "node", fmt::format("label_values({}{{{}}}, node)", metric("brix_node_heartbeat_age_seconds"), job), true));
  return {{"title", "brix job"},
          {"uid", "brix-job"},
          {"description", "A brix job's /metrics (brix monitor --prometheus): step times, stragglers, throughput, nodes, GPUs, rules."},
          {"tags", {"brix"}},
          {"timezone", "browser"},
          {"editable", true},
          {"graphTooltip", 1},
          {"schemaVersion", 39},
          {"version", 1},
          {"refresh", "10s"},
          {"time", {{"from", "now-1h"}, {"to", "now"}}},
          {"annotations",
           {{"list", Json::array({{{"builtIn", 1},
                                   {"datasource", {{"type", "grafana"}, {"uid", "-- Grafana --"}}},
                                   {"enable", true},
                                   {"hide", true},
                                   {"iconColor", "rgba(0, 211, 255, 1)"},
                                   {"name", "Annotations & Alerts"},
                                   {"type", "dashboard"}}})}}},
          {"templating", {{"list", templating}}},
          {"panels", b.panels()}};
}

std::vector<std::string> grafana_queries(const nlohmann::ordered_json& dashboard) {
  std::vector<std::string> out;
  for (const auto& panel : dashboard.at("panels")) {
    for (const auto& item : panel.value("targets", Json::array())) {
      out.push_back(item.at("expr").get<std::string>());
    }
  }
  return out;
}

std::vector<std::string> metric_names_in(const std::string& expression) {
  // PromQL's keywords and aggregation operators ("sum by (x) (...)": not followed by '(').
  static const std::set<std::string> keywords{
      "by",  "without", "on",     "ignoring", "group_left", "group_right",  "bool",   "and",    "or",
      "unless", "offset", "label_values", "sum", "min", "max", "avg", "group", "stddev", "stdvar",
      "count", "count_values", "bottomk", "topk", "quantile"};
  std::vector<std::string> names;
  int grouping_depth = -1; // inside by (...) / on (...): label names
  int depth = 0;
  std::string previous;
  for (std::size_t i = 0; i < expression.size();) {
    const char c = expression[i];
    if (c == '"') { // a string literal
      i = expression.find('"', i + 1);
      i = i == std::string::npos ? expression.size() : i + 1;
      continue;
    }
    if (c == '{') { // label matchers
      i = expression.find('}', i);
      i = i == std::string::npos ? expression.size() : i + 1;
      continue;
    }
    if (c == '[') { // a range: [5m], [$__rate_interval]
      i = expression.find(']', i);
      i = i == std::string::npos ? expression.size() : i + 1;
      continue;
    }
    if (c == '(') {
      ++depth;
      if (previous == "by" || previous == "without" || previous == "on" || previous == "ignoring" ||
          previous == "group_left" || previous == "group_right") {
        grouping_depth = depth;
      }
      previous.clear();
      ++i;
      continue;
    }
    if (c == ')') {
      if (depth == grouping_depth) {
        grouping_depth = -1;
      }
      --depth;
      ++i;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':') {
      std::size_t end = i;
      while (end < expression.size() &&
             (std::isalnum(static_cast<unsigned char>(expression[end])) || expression[end] == '_' || expression[end] == ':')) {
        ++end;
      }
      const auto word = expression.substr(i, end - i);
      std::size_t next = end;
      while (next < expression.size() && expression[next] == ' ') {
        ++next;
      }
      const bool function = next < expression.size() && expression[next] == '(';
      const bool variable = i > 0 && expression[i - 1] == '$';
      if (!function && !variable && grouping_depth < 0 && !keywords.contains(word)) {
        names.push_back(word);
      }
      previous = word;
      i = end;
      continue;
    }
    if (c != ' ') {
      previous.clear();
    }
    ++i;
  }
  return names;
}

} // namespace brix::monitor
