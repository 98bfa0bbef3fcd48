// Rendering a PlanReport: the JSON document of `brix plan --format json|yaml` and the text
// report. Nothing here computes a plan; every number comes from the report.
#include <brix/plan/plan_report.hpp>

#include <brix/model/loader.hpp>
#include <brix/model/params.hpp>
#include <brix/plan/memory.hpp>
#include <brix/plan/search_detail.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace brix::plan {

namespace {

using detail::k_gib;
using Json = nlohmann::ordered_json;

/// Lower bound on GPUs for model states alone (bf16 weights, fp32 master weights and Adam moments
/// = 14 B/param, + the gradient buffer's bytes: 18 B/param at fp32, 16 at bf16; fully sharded).
std::string capacity_hint(const model::ModelSpec& model, const cluster::ClusterSpec& cluster, double grad_bytes) {
  const auto counts = model::count_parameters(model);
  const double per_param = model_state_bytes_per_param(grad_bytes);
  const double states = per_param * static_cast<double>(counts.total + counts.mtp);
  double smallest = INFINITY;
  for (const auto& group : cluster.groups) {
    smallest = std::min(smallest, group.gpu.memory_bytes);
  }
  const double usable = smallest * 0.9;
  return fmt::format("model states alone ({:g} B/param, {:.1f} TiB) need at least {:.0f} GPUs of {:.0f} GiB even fully sharded; "
                     "the cluster has {}",
                     per_param, states / (k_gib * 1024), std::ceil(states / usable), smallest / k_gib, cluster.total_gpus());
}

Json mixed_to_json(const PlanReport& report) {
  const auto& mixed = *report.mixed;
  const auto context = report.context();
  Json json;
  json["mixed_search"] = {{"covers", mixed_search_coverage()},
                          {"not_searched", mixed.not_searched.empty() ? Json() : Json(mixed.not_searched)},
                          {"evaluated", mixed.evaluated},
                          {"fitting", mixed.fitting}};
  json["mixed"] = nullptr;
  if (mixed.best) {
    // The same fields as plans[], on the whole cluster.
    auto& m = json["mixed"] = plan_to_json(mixed.best->estimate, context);
    m["uniform_step_time_s"] = mixed.best->uniform_step_s ? Json(*mixed.best->uniform_step_s) : Json();
    m.update(details_to_json(*report.mixed_details));
  }
  auto& subset = json["homogeneous_subset"] = {{"node_group", mixed.homogeneous_group}, {"gpus", mixed.homogeneous_gpus}};
  subset["layout"] = nullptr;
  subset["step_time_s"] = nullptr;
  if (mixed.homogeneous) {
    const auto plan = plan_to_json(*mixed.homogeneous, context);
    for (const char* key : {"layout", "step_time_s", "tokens_per_s", "mfu", "memory_gib"}) {
      subset[key] = plan[key];
    }
  }
  return json;
}

std::string explanation_to_text(const LayoutExplanation& explanation) {
  std::string out = fmt::format("\nlayout {} cannot run:\n", to_string(explanation.completion.layout));
  for (const auto& problem : explanation.verdict.problems) {
    out += "  - " + problem + "\n";
  }
  if (!explanation.completion.filled.empty()) {
    out += fmt::format("  (fields not given, set to the completion closest to running: {})\n",
                       fmt::join(explanation.completion.filled, ", "));
  }
  return out;
}

std::string mixed_to_text(const PlanReport& report) {
  const auto& mixed = *report.mixed;
  std::string out = "\nmixed cluster: stages on node groups, layers split by speed\n";
  out += fmt::format("  mixed search covers: {}\n", mixed_search_coverage());
  if (mixed.best) {
    const auto& m = *mixed.best;
    out += fmt::format("  best: {}: step {}, {} tokens/s, MFU {:.1f}%, HFU {:.1f}%, bubble {:.1f}%, memory {} (stage {}) "
                       "(uniform split: {})\n",
                       short_layout(m.layout), util::human_seconds(m.step_s),
                       util::with_thousands(static_cast<std::int64_t>(m.tokens_per_s)), m.mfu * 100, m.estimate.hfu * 100,
                       m.estimate.step.bubble_fraction * 100, util::gib(m.estimate.memory.total), m.estimate.memory.stage,
                       m.uniform_step_s ? util::human_seconds(*m.uniform_step_s) : std::string("does not fit"));
    out += details_to_text(*report.mixed_details, report.model.layers);
  } else if (!mixed.not_searched.empty()) {
    out += fmt::format("  not searched: --layout asks for {}\n", mixed.not_searched);
  } else {
    out += mixed.evaluated == 0
               ? std::string("  no layout of the mixed search matches --layout and tiles every node group\n")
               : fmt::format("  no stage assignment fits ({} layouts tried, none within memory)\n", mixed.evaluated);
  }
  out += fmt::format("  largest homogeneous subset ({}, {} GPUs): {}\n", mixed.homogeneous_group, mixed.homogeneous_gpus,
                     mixed.homogeneous ? fmt::format("{} step {}", short_layout(mixed.homogeneous->layout),
                                                     util::human_seconds(mixed.homogeneous->step.step_s))
                                       : std::string("no layout fits"));
  return out;
}

std::string no_fit_to_text(const NoFit& no_fit) {
  std::string out = fmt::format("\nno plan: {}\n", no_fit.why);
  if (!no_fit.fitting_batches.empty()) {
    std::vector<std::string> batches;
    for (const auto batch : no_fit.fitting_batches) {
      batches.push_back(util::with_thousands(batch));
    }
    out += fmt::format("nearest global batches with a layout that fits: {} (--global-batch)\n", util::join_or(batches));
  }
  return out;
}

} // namespace

int exit_code(const PlanReport& report) { return report.explanation || report.no_fit ? 1 : 0; }

std::vector<std::string> warnings(const PlanReport& report) {
  auto out = model::load_warnings(report.model);
  for (auto& warning : optimizer_warnings(report.optimizer)) {
    out.push_back(std::move(warning));
  }
  return out;
}

Json details_to_json(const PlanDetails& details) {
  Json json;
  json["stages"] = Json::array();
  for (const auto& stage : details.stages) {
    json["stages"].push_back({{"first_layer", stage.first_layer},
                              {"last_layer", stage.last_layer},
                              {"node_group", stage.node_group},
                              {"time_s", stage.time_s},
                              {"data_parallel_s", stage.data_parallel_s},
                              {"memory_gib", stage.memory_bytes / k_gib}});
  }
  // The uniform split may not fit at all: null, not a made-up gain.
  const bool uniform_fits = details.uniform_step_s > 0;
  json["stage_split"] = {{"uniform_step_s", uniform_fits ? Json(details.uniform_step_s) : Json()},
                         {"balanced_step_s", details.balanced_step_s},
                         {"gain", uniform_fits ? Json(1.0 - details.balanced_step_s / details.uniform_step_s) : Json()}};
  if (details.recompute) {
    const auto& recompute = *details.recompute;
    Json options = Json::array();
    for (const auto& option : recompute.options) {
      options.push_back({{"name", option.name},
                         {"activation_gib", option.activation_bytes / k_gib},
                         {"time_s", option.time_s},
                         {"fits", option.fits}});
    }
    json["recompute_plan"] = {{"stage", recompute.stage},
                              {"budget_gib_per_micro_batch", recompute.budget_bytes / k_gib},
                              {"options", options},
                              {"recomputed", recompute.recomputed},
                              {"time_added_for_5x_less_memory", recompute.reference_time_added}};
  }
  const auto& c = details.checkpoint;
  json["checkpoint"] = {{"interval_s", c.interval_s},   {"young_s", c.young_s},     {"size_gib", details.checkpoint_bytes / k_gib},
                        {"write_s", c.write_s},         {"job_mtbf_s", c.job_mtbf_s}, {"overhead", c.overhead},
                        {"goodput", c.goodput},         {"storage_write_gb_per_s", c.storage.write_bytes_per_s / 1e9},
                        {"storage_assumed", c.storage.assumed}, {"storage_source", c.storage.source}};
  json["batch"] = {{"global", details.batch.global}, {"micro", details.batch.micro}, {"accumulation", details.batch.accumulation}};
  return json;
}

std::string details_to_text(const PlanDetails& details, std::int64_t layers) {
  std::string out;
  out += "\nstage split:\n";
  // Mixed-cluster stages pay their own groups' ZeRO traffic each micro-batch: shown where any do.
  const bool zero_traffic = std::any_of(details.stages.begin(), details.stages.end(),
                                        [](const StageDetail& stage) { return stage.data_parallel_s > 0; });
  std::vector<std::string> header{"stage", "layers", "node group", "time/micro-batch", "memory/GPU"};
  std::vector<util::Align> align{util::Align::right, util::Align::left, util::Align::left, util::Align::right,
                                 util::Align::right};
  if (zero_traffic) {
    header.insert(header.begin() + 4, "+ exposed DP");
    align.insert(align.begin() + 4, util::Align::right);
  }
  util::Table table(header, align);
  for (std::size_t s = 0; s < details.stages.size(); ++s) {
    const auto& stage = details.stages[s];
    std::vector<std::string> row{std::to_string(s), fmt::format("{}–{}", stage.first_layer, stage.last_layer),
                                 stage.node_group, util::human_seconds(stage.time_s), util::gib(stage.memory_bytes)};
    if (zero_traffic) {
      row.insert(row.begin() + 4, util::human_seconds(stage.data_parallel_s));
    }
    table.add_row(row);
  }
  out += table.render(2);
  if (details.split_is_uniform) {
    out += "  the DP split equals the uniform one\n";
  } else {
    out += details.uniform_step_s > 0
               ? fmt::format("  DP split: step {} vs {} uniform ({:.1f}% faster)\n", util::human_seconds(details.balanced_step_s),
                             util::human_seconds(details.uniform_step_s),
                             100.0 * (1.0 - details.balanced_step_s / details.uniform_step_s))
               : fmt::format("  DP split: step {}; the uniform split does not fit in memory\n",
                             util::human_seconds(details.balanced_step_s));
    const auto flags = megatron_split_flags(details, layers);
    out += flags.empty() ? "  Megatron cannot express it: the per-stage list goes to plan.yaml\n"
                         : fmt::format("  Megatron: {}\n", fmt::join(flags, " "));
  }
  if (details.recompute) {
    const auto& r = *details.recompute;
    out += fmt::format("\nrecomputation (stage {}, budget {} per micro-batch):\n", r.stage, util::gib(r.budget_bytes));
    util::Table options({"policy", "activations", "time/micro-batch", "fits"},
                        {util::Align::left, util::Align::right, util::Align::right, util::Align::left});
    for (const auto& option : r.options) {
      options.add_row({option.name, util::gib(option.activation_bytes), util::human_seconds(option.time_s), option.fits ? "yes" : "no"});
    }
    out += options.render(2);
    out += r.reference_time_added >= 0
               ? fmt::format("  5× less activation memory costs {:.1f}% more time here by recomputation alone (Korthikanti et al. "
                             "2022 get 5× from sequence parallelism and selective recomputation, with over 90% less "
                             "recomputation overhead)\n",
                             r.reference_time_added * 100)
               : "  5× less activation memory is not reachable by recomputation here\n";
  }
  const auto& c = details.checkpoint;
  out += fmt::format("\ncheckpoint: {} per save, written in {} at {:.0f} GB/s{}; job MTBF {}; every {} (Young {}); overhead "
                     "{:.1f}%, goodput {:.1f}%\n",
                     util::gib(details.checkpoint_bytes), util::human_seconds(c.write_s), c.storage.write_bytes_per_s / 1e9,
                     c.storage.assumed ? fmt::format(" ({})", c.storage.source) : std::string(),
                     util::human_seconds(c.job_mtbf_s), util::human_seconds(c.interval_s), util::human_seconds(c.young_s),
                     c.overhead * 100, c.goodput * 100);
  out += fmt::format("batch: global {} = micro-batch {} × accumulation {} × DP {}\n", details.batch.global, details.batch.micro,
                     details.batch.accumulation, details.batch.data_parallel);
  return out;
}

Json to_json(const PlanReport& report) {
  const auto context = report.context();
  auto json = search_to_json(report.search, context);
  json["optimizer"] = optimizer_json(report.optimizer);
  json["global_batch_proposed"] = report.global_batch_proposed;
  for (std::size_t i = 0; i < report.search.plans.size(); ++i) {
    json["plans"][i].update(details_to_json(report.details[i]));
  }
  if (report.explanation) {
    const auto& e = *report.explanation;
    json["layout_explained"] = to_string(e.completion.layout);
    json["layout_filled"] = e.completion.filled;
    json["layout_problems"] = e.verdict.problems;
    if (e.verdict.estimate) {
      json["layout_estimate"] = plan_to_json(*e.verdict.estimate, context);
    }
  }
  if (report.search.plans.empty()) {
    json["capacity"] = capacity_hint(report.model, report.cluster, report.options.software.grad_reduce_bytes);
  }
  if (report.no_fit) {
    json["no_fit"] = {{"why", report.no_fit->why}, {"fitting_global_batches", report.no_fit->fitting_batches}};
  }
  if (report.mixed) {
    json.update(mixed_to_json(report));
  }
  return json;
}

std::string to_text(const PlanReport& report, const util::Style& style) {
  std::string out = search_to_text(report.search, report.context(), style);
  if (report.global_batch_proposed) {
    out += fmt::format("(global batch {} proposed: near 4M tokens per step, and a multiple of the odd part of the {} GPUs so "
                       "that data-parallel sizes divide it; set it with --global-batch)\n",
                       report.options.shape.global_batch, report.cluster.total_gpus());
  }
  if (!report.search.plans.empty()) {
    out += details_to_text(report.details.front(), report.model.layers);
  } else {
    out += "\n" + capacity_hint(report.model, report.cluster, report.options.software.grad_reduce_bytes) + "\n";
  }
  if (report.explanation) {
    out += explanation_to_text(*report.explanation);
  }
  if (report.mixed) {
    out += mixed_to_text(report);
  }
  if (report.no_fit) {
    out += no_fit_to_text(*report.no_fit);
  }
  return out + optimizer_text(report.optimizer);
}

} // namespace brix::plan
