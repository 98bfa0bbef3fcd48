// Rendering a RebalanceReport: the stages now and rebalanced, measured against modelled.
#include <brix/plan/rebalance_run.hpp>

#include <brix/plan/search_detail.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::plan {

namespace {

nlohmann::ordered_json stages_json(const std::vector<RebalanceStage>& stages, const char* time_key) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& s : stages) {
    out.push_back({{"first_layer", s.first_layer}, {"last_layer", s.last_layer}, {"node_group", s.node_group},
                   {time_key, s.measured_s}, {"modelled_s", s.predicted_s}, {"memory_gib", s.memory_bytes / detail::k_gib}});
  }
  return out;
}

void add_rows(util::Table& table, const char* when, const std::vector<RebalanceStage>& stages) {
  for (std::size_t s = 0; s < stages.size(); ++s) {
    const auto& stage = stages[s];
    table.add_row({s == 0 ? when : "", std::to_string(s), fmt::format("{}–{}", stage.first_layer, stage.last_layer),
                   stage.node_group, util::human_seconds(stage.measured_s), util::human_seconds(stage.predicted_s),
                   util::gib(stage.memory_bytes)});
  }
}

} // namespace

nlohmann::ordered_json to_json(const RebalanceReport& report) {
  const auto& rebalance = report.rebalance;
  return {{"plan", report.plan_path},
          {"measured", report.measured_path},
          {"job", report.job},
          {"before", stages_json(rebalance.before, "measured_s")},
          {"after", stages_json(rebalance.after, "expected_s")},
          {"before_slowest_s", rebalance.before_slowest_s},
          {"after_slowest_s", rebalance.after_slowest_s},
          {"gain", rebalance.gain()}};
}

std::string to_text(const RebalanceReport& report) {
  const auto& rebalance = report.rebalance;
  std::string out = fmt::format("{} ({} on {}), measured {}: per-step compute of each stage's slowest rank\n",
                                report.plan_path, report.model, report.cluster,
                                report.job.empty() ? report.measured_path : report.job);
  util::Table table({"", "stage", "layers", "node group", "time/step", "modelled", "memory/GPU"},
                    {util::Align::left, util::Align::right, util::Align::left, util::Align::left, util::Align::right,
                     util::Align::right, util::Align::right});
  add_rows(table, "now", rebalance.before);
  if (rebalance.gain() > 0) {
    add_rows(table, "rebalanced", rebalance.after);
  }
  out += table.render(2);
  if (rebalance.gain() > 0) {
    out += fmt::format("  slowest stage {} → {} per step ({:.1f}% faster pipeline); write it with --emit yaml -o FILE\n",
                       util::human_seconds(rebalance.before_slowest_s), util::human_seconds(rebalance.after_slowest_s),
                       rebalance.gain() * 100);
  } else {
    out += "  the running split is already the best that fits: nothing to move\n";
  }
  return out;
}

} // namespace brix::plan
