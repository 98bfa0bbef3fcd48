#pragma once
// `brix monitor rules`: the rules of a file (or the bundled default) as checked, one row each.

#include <brix/monitor/rules.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace brix::monitor {

struct RulesReport {
  std::vector<Rule> rules;
};

/// {rules: [{name, metric, direction, normal, abnormal, for_seconds, hysteresis, event, suspect,
/// hook, source}]}.
[[nodiscard]] nlohmann::ordered_json to_json(const RulesReport& report);
/// rule, metric, normal and abnormal zones, for, hysteresis, actions.
[[nodiscard]] std::string to_text(const RulesReport& report);

} // namespace brix::monitor
