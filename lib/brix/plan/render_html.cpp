// `brix plan --emit html`: the page of a PlanReport. Every number is read from the report (the
// same values to_text and to_json print); the timeline comes from pipeline_timeline().
#include <brix/plan/render_html.hpp>

#include <brix/plan/emit_targets.hpp>
#include <brix/plan/search_report.hpp>
#include <brix/util/strings.hpp>
#include <brix/util/version.hpp>
#include <brix/viz/charts.hpp>
#include <brix/viz/html.hpp>
#include <brix/viz/palette.hpp>
#include <brix/viz/svg.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace brix::plan {

namespace {

constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;

std::string percent(double fraction) { return fmt::format("{:.1f}%", fraction * 100); }

/// The best plan's headline numbers.
std::string key_figures(const PlanEstimate& plan, const PlanDetails& details, int gpus) {
  const auto& step = plan.step;
  const auto& c = step.comm;
  double capacity = 0;
  for (const auto& stage : details.stages) {
    capacity = std::max(capacity, stage.capacity_bytes);
  }
  std::string out = "<div class=\"figures\">";
  out += viz::figure(util::human_seconds(step.step_s), "step", "figure-step");
  out += viz::figure(util::with_thousands(static_cast<std::int64_t>(plan.tokens_per_s)), "tokens/s", "figure-tokens");
  out += viz::figure(fmt::format("{:.0f}", plan.tflops_per_gpu), "TFLOP/s per GPU", "figure-tflops");
  out += viz::figure(percent(plan.mfu), "MFU", "figure-mfu");
  out += viz::figure(percent(step.bubble_fraction), "bubble", "figure-bubble");
  out += viz::figure(util::human_seconds(c.tp + c.ep + c.cp + c.pp + c.dp), "exposed communication", "figure-comm");
  out += viz::figure(util::gib(plan.memory.total), fmt::format("memory per GPU (stage {})", plan.memory.stage), "figure-memory");
  out += viz::figure(std::to_string(gpus), "GPUs", "figure-gpus");
  return out + "</div>\n";
}

std::string memory_chart(const PlanDetails& details, std::string_view title) {
  viz::StackedBars chart;
  chart.label = std::string(title);
  chart.unit = "GiB per GPU";
  namespace colour = viz::colour;
  chart.series = {{"weights", std::string(colour::weights)},
                  {"gradients", std::string(colour::gradients)},
                  {"optimizer states", std::string(colour::optimizer_states)},
                  {"activations", std::string(colour::activations)},
                  {"other (buffers, context, reserve)", std::string(colour::other_memory)}};
  for (std::size_t s = 0; s < details.stages.size(); ++s) {
    const auto& stage = details.stages[s];
    const auto& m = stage.memory;
    chart.categories.push_back(fmt::format("stage {}\n{}–{}", s, stage.first_layer, stage.last_layer));
    chart.values.push_back({m.weights / k_gib, m.grads / k_gib, m.optimizer / k_gib, m.activations / k_gib, m.other / k_gib});
    chart.capacities.push_back(stage.capacity_bytes / k_gib);
  }
  const bool one = std::all_of(details.stages.begin(), details.stages.end(),
                               [&](const auto& stage) { return stage.capacity_bytes == details.stages.front().capacity_bytes; });
  chart.capacity_label = one && !details.stages.empty()
                             ? fmt::format("GPU memory {:.0f} GiB", details.stages.front().capacity_bytes / k_gib)
                             : "each stage's GPU memory";
  return viz::stacked_bars_svg(chart);
}

std::string plans_table(const PlanReport& report) {
  const bool priced = report.price.has_value();
  std::vector<viz::TableColumn> columns{{"#", true},          {"layout", false},    {"step", true},
                                        {"tokens/s", true},   {"TFLOP/s/GPU", true}, {"MFU", true},
                                        {"bubble", true},     {"exposed comm", true}, {"memory/GPU", true}};
  if (priced) {
    columns.push_back({"$/1T tokens", true});
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> classes;
  int rank = 1;
  for (const auto& plan : report.search.plans) {
    const auto& c = plan.step.comm;
    std::vector<std::string> row{std::to_string(rank),
                                 short_layout(plan.layout),
                                 util::human_seconds(plan.step.step_s),
                                 util::with_thousands(static_cast<std::int64_t>(plan.tokens_per_s)),
                                 fmt::format("{:.0f}", plan.tflops_per_gpu),
                                 percent(plan.mfu),
                                 percent(plan.step.bubble_fraction),
                                 util::human_seconds(c.tp + c.ep + c.cp + c.pp + c.dp),
                                 util::gib(plan.memory.total)};
    if (priced) {
      row.push_back(util::with_thousands(
          static_cast<std::int64_t>(cost_per_trillion_tokens(plan, report.search.gpus, *report.price))));
    }
    rows.push_back(std::move(row));
    classes.emplace_back(rank == 1 ? "best" : "");
    ++rank;
  }
  return viz::html_table(columns, rows, classes, "ranked-plans");
}

std::string rejections_table(const SearchResult& search) {
  std::vector<viz::CountedReason> reasons;
  for (const auto& group : search.rejected) {
    reasons.push_back({group.reason, group.count});
  }
  return viz::reasons_table(reasons, "why layouts were rejected", "rejected");
}

std::string timeline_section(const PlanReport& report, const PlanEstimate& plan, const PlanDetails& details,
                             std::string_view id, std::string_view heading) {
  const auto timeline = pipeline_timeline(plan, details, report.options.shape);
  std::string note = fmt::format(
      "One training step of {}: a row per pipeline stage (its layers and node group on the left), every forward and "
      "backward pass of the {} micro-batches with the exposed communication inside it, idle time hatched, then the "
      "exposed data-parallel reduction and the optimizer. Hover a block for its micro-batch and duration.",
      short_layout(plan.layout), timeline.micro_batches);
  const auto critical = static_cast<std::size_t>(std::clamp(timeline.critical_stage, 0, static_cast<int>(timeline.rows.size()) - 1));
  const double drawn_bubble = timeline.rows.empty() ? 0 : timeline.rows[critical].idle_s;
  if (std::abs(drawn_bubble - plan.step.bubble_s) > 0.01 * plan.step.step_s) {
    note += fmt::format(" As drawn, the schedule leaves stage {} idle for {} ({} of the step); the plan's bubble, "
                        "which its step time counts, is {} ({}).",
                        timeline.critical_stage, util::human_seconds(drawn_bubble),
                        percent(drawn_bubble / std::max(timeline.step_s, 1e-12)), util::human_seconds(plan.step.bubble_s),
                        percent(plan.step.bubble_fraction));
  }
  const auto svg = timeline_svg(timeline, plan,
                                fmt::format("{} on {}: {}", report.model.name, report.cluster.name, short_layout(plan.layout)));
  return viz::section(id, heading, "<figure>" + svg + "</figure>", note);
}

std::string explanation_section(const LayoutExplanation& explanation) {
  std::string list = "<ul id=\"problems\">";
  for (const auto& problem : explanation.verdict.problems) {
    list += fmt::format("<li>{}</li>", viz::escape_xml(problem));
  }
  list += "</ul>";
  const auto note = explanation.completion.filled.empty()
                        ? std::string()
                        : fmt::format("Fields not given were set to the completion closest to running: {}.",
                                      fmt::join(explanation.completion.filled, ", "));
  return viz::section("explanation", fmt::format("Why {} cannot run", to_string(explanation.completion.layout)), list, note);
}

} // namespace

std::string plan_html(const PlanReport& report) {
  viz::Page page;
  page.title = fmt::format("brix plan: {} on {}", report.model.name, report.cluster.name);
  const auto& search = report.search;
  page.subtitle = fmt::format("{} GPUs (costed as {}), global batch {} × {} tokens, {}; {} layouts searched, {} fit · {}",
                              search.gpus, search.device, util::with_thousands(report.options.shape.global_batch),
                              util::with_thousands(report.options.shape.seq_len), to_string(report.options.precision),
                              util::with_thousands(search.evaluated), util::with_thousands(search.valid),
                              util::split(version_text(), '\n').front());
  std::string body;
  const bool any = !search.plans.empty() || report.mixed_details.has_value();
  if (any) {
    const auto best = best_plan(report, "html");
    body += viz::section("best-plan", fmt::format("Best plan: {}", to_string(*best.layout)),
                         key_figures(*best.estimate, *best.details, search.gpus),
                         best.mixed ? "Found by the stage-assignment planner: stages pinned to node groups." : "");
    body += timeline_section(report, *best.estimate, *best.details, "timeline", "Pipeline schedule");
    body += viz::section("memory", "Memory per GPU by stage",
                         "<figure>" + memory_chart(*best.details, "Memory per GPU by pipeline stage") + "</figure>",
                         "Peak memory of each stage's GPUs by kind, against the GPU's capacity.");
    if (!best.mixed && report.mixed_details) {
      body += timeline_section(report, report.mixed->best->estimate, *report.mixed_details, "mixed-timeline",
                               "Stage-assignment plan on the mixed cluster");
    }
  } else {
    body += viz::section("best-plan", "No layout fits", "<p class=\"warn\">Every layout was rejected; the reasons follow.</p>");
  }
  if (report.explanation) {
    body += explanation_section(*report.explanation);
  }
  if (!search.plans.empty()) {
    body += viz::section("plans", "Ranked plans", plans_table(report), "Best first; the first row is drawn above.");
  }
  if (!search.rejected.empty()) {
    body += viz::section("rejections", "Rejected layouts", rejections_table(search),
                         "Layout families that cannot run, counted by the reason they fail.");
  }
  page.body = body;
  return viz::html_document(page);
}

} // namespace brix::plan
