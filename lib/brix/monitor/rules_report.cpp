// Rendering the rules `brix monitor rules` checked.
#include <brix/monitor/rules_report.hpp>

#include <brix/util/output.hpp>

#include <fmt/format.h>

namespace brix::monitor {

nlohmann::ordered_json to_json(const RulesReport& report) {
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const auto& rule : report.rules) {
    const bool higher = rule.direction == Direction::higher_is_worse;
    rules.push_back({{"name", rule.name}, {"metric", rule.metric},
                     {"direction", higher ? "higher_is_worse" : "lower_is_worse"}, {"normal", rule.normal},
                     {"abnormal", rule.abnormal}, {"for_seconds", rule.for_seconds}, {"hysteresis", rule.hysteresis},
                     {"event", rule.log_event}, {"suspect", rule.mark_suspect}, {"hook", rule.hook},
                     {"source", rule.source}});
  }
  return {{"rules", rules}};
}

std::string to_text(const RulesReport& report) {
  util::Table table({"rule", "metric", "normal", "abnormal", "for", "hysteresis", "actions"});
  for (const auto& rule : report.rules) {
    const bool higher = rule.direction == Direction::higher_is_worse;
    std::string actions = rule.log_event ? "event" : "";
    actions += rule.mark_suspect ? (actions.empty() ? "suspect" : ", suspect") : "";
    actions += rule.hook.empty() ? "" : (actions.empty() ? "hook" : ", hook");
    table.add_row({rule.name, rule.metric, fmt::format("{} {:g}", higher ? "<" : ">", rule.normal),
                   fmt::format("{} {:g}", higher ? ">" : "<", rule.abnormal), fmt::format("{:g} s", rule.for_seconds),
                   fmt::format("{:g}", rule.hysteresis), actions});
  }
  return table.render();
}

} // namespace brix::monitor
