// The serving plans page (see serve_html.hpp).
#include <brix/serve/serve_html.hpp>

#include <brix/util/strings.hpp>
#include <brix/util/version.hpp>
#include <brix/viz/charts.hpp>
#include <brix/viz/html.hpp>

#include <fmt/format.h>

#include <set>
#include <utility>

namespace brix::serve {

namespace {

constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;

std::string key_figures(const RankedPlan& best) {
  const auto& plan = *best.plan;
  const auto& performance = plan.performance;
  const auto& memory = plan.decoding().pool.memory;
  std::string out = "<div class=\"figures\">";
  out += viz::figure(rate_text(plan.output_tokens_per_s_per_gpu), "output tokens/s per GPU", "figure-per-gpu");
  out += viz::figure(rate_text(performance.tokens_per_s_per_user), "tokens/s per user", "figure-per-user");
  out += viz::figure(time_text(performance.ttft_s), "time to first token", "figure-ttft");
  out += viz::figure(time_text(performance.tpot_s), "time per output token", "figure-tpot");
  out += viz::figure(rate_text(performance.output_tokens_per_s), "output tokens/s", "figure-output");
  out += viz::figure(fmt::format("{:.1f} GiB", memory.total / k_gib), "memory per GPU (decoding)", "figure-memory");
  out += viz::figure(std::to_string(plan.layout.gpus()), "GPUs", "figure-gpus");
  return out + "</div>\n";
}

/// Every plan the report shows (the ranked ones and the front, once each) as chart points.
viz::ParetoChart pareto_chart(const ServeReport& report, bool moe) {
  viz::ParetoChart chart;
  chart.label = fmt::format("{}: output tokens/s per GPU against tokens/s per user", report.model.name);
  // The ranked plans and the front are separate lists: a plan on both is drawn once.
  std::set<std::pair<std::string, std::string>> seen;
  const auto add = [&](const RankedPlan& ranked) {
    const auto& plan = *ranked.plan;
    // An overloaded open loop has no steady state, so no point to draw.
    if (!seen.emplace(ranked.group->group.name, to_string(plan.layout)).second || plan.performance.max_request_rate > 0) {
      return;
    }
    viz::ParetoPoint point;
    point.per_user = plan.performance.tokens_per_s_per_user;
    point.per_gpu = plan.output_tokens_per_s_per_gpu;
    point.label = fmt::format("{} {} ({} GPUs, TTFT {})", ranked.group->group.name, short_layout(plan, moe),
                              plan.layout.gpus(), time_text(plan.performance.ttft_s));
    // The TPOT SLO is the per-user line below; any other miss (TTFT) marks the point itself.
    point.misses_other_slo = !plan.meets_slo && (report.workload.tpot_slo_s <= 0 ||
                                                 plan.performance.tpot_s <= report.workload.tpot_slo_s);
    chart.points.push_back(point);
  };
  for (const auto& ranked : ranked_plans(report)) {
    add(ranked);
  }
  for (const auto& ranked : pareto_front(report)) {
    add(ranked);
  }
  if (report.workload.tpot_slo_s > 0) {
    chart.slos.push_back({viz::SloLine::Axis::per_user, 1.0 / report.workload.tpot_slo_s,
                          fmt::format("TPOT ≤ {}", time_text(report.workload.tpot_slo_s))});
  }
  return chart;
}

std::string plans_table(const ServeReport& report, bool moe) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> classes;
  int index = 0;
  for (const auto& ranked : ranked_plans(report)) {
    const auto& plan = *ranked.plan;
    const auto& performance = plan.performance;
    const auto& decoding = plan.decoding();
    const bool computed = performance.max_request_rate <= 0;
    const auto shown = [&](std::string text) { return computed ? text : std::string("-"); };
    rows.push_back({std::to_string(++index), ranked.group->group.name,
                    plan.layout.mode == Mode::aggregated ? "aggregated" : "disaggregated", short_layout(plan, moe),
                    std::to_string(plan.layout.gpus()), shown(time_text(performance.ttft_s)),
                    shown(time_text(performance.tpot_s)), shown(rate_text(plan.output_tokens_per_s_per_gpu)),
                    shown(rate_text(performance.tokens_per_s_per_user)), util::with_thousands(decoding.pool.tokens),
                    !performance.stable ? "overloaded" : (plan.meets_slo ? "yes" : "no")});
    classes.emplace_back(index == 1 ? "best" : "");
  }
  return viz::html_table({{"#", true},
                          {"group", false},
                          {"mode", false},
                          {"layout", false},
                          {"GPUs", true},
                          {"TTFT", true},
                          {"TPOT", true},
                          {"tok/s per GPU", true},
                          {"tok/s per user", true},
                          {"KV tokens", true},
                          {"SLO", false}},
                         rows, classes, "ranked-plans");
}

std::string workload_text(const ServeReport& report) {
  const auto& workload = report.workload;
  std::string out = fmt::format("ISL {}, OSL {}, ", util::with_thousands(workload.isl), util::with_thousands(workload.osl));
  out += workload.request_rate > 0 ? fmt::format("{} requests/s arriving", workload.request_rate)
                                   : fmt::format("{} requests in flight", workload.concurrency);
  if (workload.num_prompts > 0) {
    out += fmt::format(", {} in all", workload.num_prompts);
  }
  if (workload.cached_tokens > 0) {
    out += fmt::format(", {} prompt tokens each in the prefix cache", util::with_thousands(workload.cached_tokens));
  }
  if (workload.ttft_slo_s > 0) {
    out += fmt::format(", TTFT ≤ {}", time_text(workload.ttft_slo_s));
  }
  if (workload.tpot_slo_s > 0) {
    out += fmt::format(", TPOT ≤ {}", time_text(workload.tpot_slo_s));
  }
  return out;
}

} // namespace

std::string serve_html(const ServeReport& report) {
  const bool moe = report.model.moe.has_value();
  int gpus = 0;
  for (const auto& group : report.groups) {
    gpus += group.group.gpus();
  }
  viz::Page page;
  page.title = fmt::format("brix plan --serve: {} on {}", report.model.name, report.cluster.name);
  page.subtitle = fmt::format("{} GPUs; {}; {} {}; {}", gpus, workload_text(report), to_string(report.engine->engine),
                              report.engine->version, util::split(version_text(), '\n').front());
  std::string body;
  const auto ranked = ranked_plans(report);
  if (!ranked.empty()) {
    const auto& best = ranked.front();
    body += viz::section("best-plan", fmt::format("Best plan: --layout {}", to_string(best.plan->layout)), key_figures(best),
                         fmt::format("On {}; {} on {} of the report's {} GPUs.", best.group->group.name,
                                     best.plan->layout.mode == Mode::aggregated ? "aggregated" : "disaggregated",
                                     best.plan->layout.gpus(), gpus));
    body += viz::section("pareto", "Throughput against speed per user",
                         "<figure>" + viz::pareto_front_svg(pareto_chart(report, moe)) + "</figure>",
                         "Each point is a plan the report lists (the ranked plans and the Pareto front): up is more "
                         "output tokens/s per GPU, right is faster for each user. Hollow points miss an SLO; the "
                         "line joins the plans no other plan beats on both. Hover a point for its layout.");
    body += viz::section("plans", "Ranked plans", plans_table(report, moe),
                         "Best first: meeting the SLOs, then output tokens/s per GPU.");
  } else {
    body += viz::section("best-plan", "No layout fits",
                         "<p class=\"warn\">Every serving layout was rejected; the reasons follow.</p>");
  }
  for (const auto& group : report.groups) {
    if (group.result.rejected.empty()) {
      continue;
    }
    std::vector<viz::CountedReason> reasons;
    for (const auto& rejection : group.result.rejected) {
      reasons.push_back({rejection.rule, rejection.count});
    }
    body += viz::section("rejections-" + group.group.name, fmt::format("Rejected layouts on {}", group.group.name),
                         viz::reasons_table(reasons, "why layouts were rejected", "rejected-" + group.group.name),
                         "Layouts that cannot run, counted by the rule they break.");
  }
  page.body = body;
  return viz::html_document(page);
}

} // namespace brix::serve
