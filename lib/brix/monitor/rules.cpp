#include <brix/monitor/rules.hpp>

#include <brix/monitor/quantity.hpp>
#include <brix/monitor/report_protocol.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>
#include <unordered_map>

namespace brix::monitor {

std::string_view state_name(RuleState state) {
  switch (state) {
  case RuleState::normal:
    return "normal";
  case RuleState::warning:
    return "warning";
  case RuleState::abnormal:
    return "abnormal";
  }
  return "normal";
}

namespace {
RuleState classify_between(Direction direction, double normal, double abnormal, double value) {
  if (direction == Direction::higher_is_worse) {
    return value < normal ? RuleState::normal : value > abnormal ? RuleState::abnormal : RuleState::warning;
  }
  return value > normal ? RuleState::normal : value < abnormal ? RuleState::abnormal : RuleState::warning;
}
} // namespace

RuleState classify(const Rule& rule, double value) {
  return classify_between(rule.direction, rule.normal, rule.abnormal, value);
}

std::string Subject::describe() const {
  if (rank) {
    return node.empty() ? fmt::format("rank {}", *rank) : fmt::format("rank {} on {}", *rank, node);
  }
  if (gpu) {
    return fmt::format("{} gpu {}", node, *gpu);
  }
  return node;
}

std::string Subject::key() const {
  return fmt::format("{}|{}|{}", node, rank ? *rank : -1, gpu ? *gpu : -1);
}

namespace {

struct Bound {
  Direction direction;
  double value;
};

Bound parse_bound(const util::DocNode& node, std::string_view key) {
  const auto text = std::string(util::trim(node.as_string()));
  const auto expected = "expected '< number' or '> number', e.g. '< 50us' or '> 85%'";
  if (text.size() < 2 || (text[0] != '<' && text[0] != '>')) {
    node.fail(fmt::format("{}: '{}' is not a threshold", key, text), expected);
  }
  const auto value = parse_quantity(text.substr(1));
  if (!value) {
    node.fail(fmt::format("{}: '{}' is not a number with a unit", key, text.substr(1)), expected);
  }
  // "normal: < x" means lower is better; "abnormal: > y" means higher is worse: the same thing.
  const bool less = text[0] == '<';
  const bool normal = key == "normal";
  return {less == normal ? Direction::higher_is_worse : Direction::lower_is_worse, *value};
}

/// A rule on a name no report can carry would never fire: a malformed key, or one of the
/// protocol's own fields, which reach the rules under other names.
void check_metric_name(const util::DocNode& node, const std::string& metric) {
  static const std::vector<std::pair<std::string_view, std::string_view>> k_fields{
      {"time", "step_seconds"}, {"compute", "compute_seconds"}, {"rank", ""}, {"step", ""}, {"stage", ""}};
  for (const auto& [field, renamed] : k_fields) {
    if (metric == field) {
      node.fail(fmt::format("metric '{}' is a field of the report line, never a metric{}", metric,
                            renamed.empty() ? std::string() : fmt::format(" (its value is '{}')", renamed)),
                "expected a metric a rank reports, or a built-in one: step_seconds, compute_seconds, heartbeat_age, "
                "cpu_percent, rss_bytes, gpu_utilization, ...");
    }
  }
  if (!is_valid_key(metric)) {
    node.fail(fmt::format("metric '{}' can never be reported", util::printable(metric)),
              "expected a name of letters, digits, '_' and '.', not starting with a digit, at most 64 bytes, as "
              "ranks report them (brix-monitor(1), REPORTS)");
  }
}

const std::vector<std::string> k_rule_keys = {"name", "metric", "normal", "abnormal", "for",
                                              "hysteresis", "actions", "hook"};
const std::vector<std::string> k_actions = {"event", "suspect", "hook"};

Rule load_rule(const util::DocNode& item) {
  item.require_known_keys(k_rule_keys, "a rule");
  Rule rule;
  rule.source = fmt::format("{}:{}", item.file(), item.line());
  rule.name = item.at("name").as_string();
  if (util::trim(rule.name).empty()) {
    item.at("name").fail("a rule's name is empty", "expected a name that events and hooks can report");
  }
  const auto metric_node = item.at("metric");
  rule.metric = metric_node.as_string();
  check_metric_name(metric_node, rule.metric);
  const auto normal_node = item.at("normal");
  const auto abnormal_node = item.at("abnormal");
  const auto normal = parse_bound(normal_node, "normal");
  const auto abnormal = parse_bound(abnormal_node, "abnormal");
  if (normal.direction != abnormal.direction) {
    abnormal_node.fail(fmt::format("rule '{}': normal and abnormal point the same way", rule.name),
                       "expected e.g. normal: '< 50us' with abnormal: '> 200us'");
  }
  rule.direction = normal.direction;
  rule.normal = normal.value;
  rule.abnormal = abnormal.value;
  const bool ordered = rule.direction == Direction::higher_is_worse ? rule.normal <= rule.abnormal
                                                                    : rule.normal >= rule.abnormal;
  if (!ordered) {
    abnormal_node.fail(fmt::format("rule '{}': the abnormal threshold is on the normal side", rule.name),
                       "expected the warning band between normal and abnormal");
  }
  if (const auto node = item.find("for")) {
    const auto seconds = parse_duration(node->as_string());
    if (!seconds) {
      node->fail(fmt::format("for: '{}' is not a duration", node->as_string()), "expected e.g. 30s, 2m");
    }
    rule.for_seconds = *seconds;
  }
  if (const auto node = item.find("hysteresis")) {
    const auto value = parse_quantity(node->as_string());
    if (!value || *value < 0) {
      node->fail(fmt::format("hysteresis: '{}' is not a non-negative quantity", node->as_string()),
                 "expected a number in the metric's unit, e.g. 10us or 5%");
    }
    rule.hysteresis = *value;
  }
  rule.hook = item.string_or("hook", "");
  if (const auto actions = item.find("actions")) {
    rule.log_event = false;
    bool wants_hook = false;
    for (const auto& action : actions->elements()) {
      const auto name = action.as_string();
      if (name == "event") {
        rule.log_event = true;
      } else if (name == "suspect") {
        rule.mark_suspect = true;
      } else if (name == "hook") {
        wants_hook = true;
      } else {
        action.fail(fmt::format("unknown action '{}'{}", name, util::did_you_mean(name, k_actions)),
                    "expected event, suspect or hook");
      }
    }
    if (wants_hook && rule.hook.empty()) {
      actions->fail(fmt::format("rule '{}' lists the hook action without a hook command", rule.name),
                    "expected hook: \"command\"");
    }
  }
  return rule;
}

} // namespace

std::vector<Rule> load_rules(const util::DocNode& document) {
  document.require_known_keys(std::vector<std::string>{"brix_monitor_rules", "rules"}, "the rules file");
  const auto version = document.at("brix_monitor_rules");
  if (version.as_int() != 1) {
    version.fail(fmt::format("brix_monitor_rules: version {} is not supported", version.as_int()),
                 "expected 1");
  }
  const auto items = document.at("rules").elements();
  if (items.size() > k_max_rules) {
    document.at("rules").fail(fmt::format("{} rules", util::with_thousands(static_cast<std::int64_t>(items.size()))),
                              fmt::format("expected at most {}", util::with_thousands(k_max_rules)));
  }
  std::vector<Rule> rules;
  rules.reserve(items.size());
  std::unordered_map<std::string, std::size_t> by_name; // linear in the rules, not quadratic
  for (const auto& item : items) {
    auto rule = load_rule(item);
    if (const auto [seen, inserted] = by_name.try_emplace(rule.name, rules.size()); !inserted) {
      item.fail(fmt::format("rule '{}' is defined twice (first at {})", rule.name, rules[seen->second].source),
                "expected unique rule names");
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::vector<Rule> load_rules_file(const std::string& path) {
  return load_rules(util::DocNode::load_file(path));
}

std::vector<Rule> default_rules() {
  return load_rules(util::DocNode::load_string(default_rules_text(), "configs/monitor/rules.yaml"));
}

RuleEngine::RuleEngine(std::vector<Rule> rules) : m_rules(std::move(rules)), m_trackers(m_rules.size()) {
  for (std::size_t i = 0; i < m_rules.size(); ++i) {
    m_by_metric[m_rules[i].metric].push_back(i);
  }
}

bool RuleEngine::watches(std::string_view metric) const { return m_by_metric.contains(std::string(metric)); }

std::vector<Transition> RuleEngine::observe(const Subject& subject, std::string_view metric,
                                            double value, double now) {
  std::vector<Transition> out;
  const auto watching = m_by_metric.find(std::string(metric));
  if (watching == m_by_metric.end()) {
    return out;
  }
  for (const std::size_t i : watching->second) {
    const Rule& rule = m_rules[i];
    auto [it, inserted] = m_trackers[i].try_emplace(subject.key());
    Tracker& tracker = it->second;
    if (inserted) {
      tracker.subject = subject;
      tracker.since = now;
    }
    tracker.value = value;
    const RuleState zone = classify(rule, value);
    // Worsening: the worst zone held continuously for `for` seconds wins.
    if (zone > tracker.state) {
      if (!tracker.pending || zone < *tracker.pending) {
        if (!tracker.pending) {
          tracker.pending_since = now;
        }
        tracker.pending = zone;
      }
      // `pending` is the mildest worse zone seen since pending_since; after `for` it is held.
      if (now - tracker.pending_since >= rule.for_seconds) {
        out.push_back({rule.name, rule.metric, subject, tracker.state, *tracker.pending, value, now});
        tracker.state = out.back().to;
        tracker.since = now;
        tracker.pending.reset();
      }
      continue;
    }
    tracker.pending.reset();
    // Improving: the thresholds move by the hysteresis towards the good side.
    const double shift = rule.direction == Direction::higher_is_worse ? -rule.hysteresis : rule.hysteresis;
    const RuleState recovered = classify_between(rule.direction, rule.normal + shift, rule.abnormal + shift, value);
    if (recovered < tracker.state) {
      out.push_back({rule.name, rule.metric, subject, tracker.state, recovered, value, now});
      tracker.state = recovered;
      tracker.since = now;
    }
  }
  return out;
}

std::vector<RuleEngine::Entry> RuleEngine::entries() const {
  std::vector<Entry> out;
  for (std::size_t i = 0; i < m_rules.size(); ++i) {
    for (const auto& [key, tracker] : m_trackers[i]) {
      out.push_back({&m_rules[i], tracker.subject, tracker.state, tracker.value, tracker.since});
    }
  }
  return out;
}

} // namespace brix::monitor
