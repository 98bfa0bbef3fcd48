#include <brix/plan/rebalance_run.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/plan/measured.hpp>
#include <brix/plan/rebalance.hpp>
#include <brix/plan/search_detail.hpp>
#include <brix/plan/plan_inputs.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

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

int run_rebalance(const RebalanceRequest& request, std::ostream& out) {
  const auto plan = load_plan_file(request.plan);
  const auto measured = read_measured_stages(request.measured);
  const auto model = plan::load_plan_model(plan);
  const auto cluster = cluster::load_cluster(plan::resolve_plan_source(plan, plan.cluster, "cluster"));
  const int pp = plan.layout.pp;
  std::vector<double> times(static_cast<std::size_t>(pp), 0.0);
  std::vector<bool> seen(static_cast<std::size_t>(pp), false);
  for (const auto& stage : measured.stages) {
    if (stage.stage >= pp) {
      throw InputError(fmt::format("{}: stage {} measured, but {} has pp {} (expected stages 0–{})", request.measured,
                                   stage.stage, request.plan, pp, pp - 1));
    }
    times[static_cast<std::size_t>(stage.stage)] = stage.compute_seconds;
    seen[static_cast<std::size_t>(stage.stage)] = true;
  }
  for (int s = 0; s < pp; ++s) {
    if (!seen[static_cast<std::size_t>(s)]) {
      throw InputError(fmt::format("{}: no time for stage {} (expected every stage 0–{} of {}: did all ranks report "
                                   "stage= through BRIX_PP_RANK?)",
                                   request.measured, s, pp - 1, request.plan));
    }
  }
  SearchOptions options;
  options.shape = {plan.batch.global, plan.seq_len};
  options.precision = plan.layout.precision;
  options.software = software_by_name(request.software);
  options.software.flash_attention = plan.layout.flash_attention;
  const auto rebalance = rebalance_stages(model, cluster, plan, options, times);

  if (request.emit == "yaml") {
    const auto file = rebalanced_plan(plan, rebalance);
    if (!request.output.empty()) {
      save_plan_file(file, request.output);
      return 0;
    }
    out << to_yaml_text(file);
    return 0;
  }
  if (!request.emit.empty()) {
    throw InputError(fmt::format("--emit {} with --measured (expected yaml: the rebalanced plan file)", request.emit));
  }
  if (request.format != util::Format::text) {
    nlohmann::ordered_json json{{"plan", request.plan},
                                {"measured", request.measured},
                                {"job", measured.job},
                                {"before", stages_json(rebalance.before, "measured_s")},
                                {"after", stages_json(rebalance.after, "expected_s")},
                                {"before_slowest_s", rebalance.before_slowest_s},
                                {"after_slowest_s", rebalance.after_slowest_s},
                                {"gain", rebalance.gain()}};
    util::emit_document(out, json, request.format);
    return 0;
  }
  out << fmt::format("{} ({} on {}), measured {}: per-step compute of each stage's slowest rank\n", request.plan,
                     model.name, cluster.name, measured.job.empty() ? request.measured : measured.job);
  util::Table table({"", "stage", "layers", "node group", "time/step", "modelled", "memory/GPU"},
                    {util::Align::left, util::Align::right, util::Align::left, util::Align::left, util::Align::right,
                     util::Align::right, util::Align::right});
  add_rows(table, "now", rebalance.before);
  if (rebalance.gain() > 0) {
    add_rows(table, "rebalanced", rebalance.after);
  }
  out << table.render(2);
  if (rebalance.gain() > 0) {
    out << fmt::format("  slowest stage {} → {} per step ({:.1f}% faster pipeline); write it with --emit yaml -o FILE\n",
                       util::human_seconds(rebalance.before_slowest_s), util::human_seconds(rebalance.after_slowest_s),
                       rebalance.gain() * 100);
  } else {
    out << "  the running split is already the best that fits: nothing to move\n";
  }
  return 0;
}

} // namespace brix::plan
