// plan::pipeline_timeline and the plan pictures: the timeline's passes add up to the stage times
// the planner charged, its slowest stage idles for the plan's bubble (1F1B, uniform stages),
// and the page and SVG carry the report's numbers.
#include <brix/plan/emit_targets.hpp>
#include <brix/plan/pipeline_timeline.hpp>
#include <brix/plan/plan_run.hpp>
#include <brix/plan/render_html.hpp>
#include <brix/util/error.hpp>
#include <brix/util/progress.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

using namespace brix::plan;

namespace {

PlanReport run(PlanRequest request, const std::string& layout, std::int64_t batch) {
  request.global_batch = batch;
  request.layout = layout;
  brix::util::NoProgress progress;
  return run_plan(request, progress);
}

PlanReport report_for(const std::string& model, const std::string& cluster, const std::string& layout, std::int64_t batch) {
  PlanRequest request;
  request.model = model;
  request.cluster.cluster = cluster;
  return run(request, layout, batch);
}

/// GPT-3 175B's nodes: 64 × 8 A100 80GB (512 GPUs of Selene's kind).
PlanReport gpt3_on_512_a100(const std::string& layout) {
  PlanRequest request;
  request.model = "gpt-175b";
  request.cluster.nodes = 64;
  request.cluster.gpu = "a100-sxm-80gb";
  return run(request, layout, 512);
}

/// Busy time of one row's passes, by what the planner charges a micro-batch for.
double busy(const TimelineRow& row) {
  double sum = 0;
  for (const auto& block : row.blocks) {
    if (block.kind != BlockKind::idle && block.micro_batch >= 0) {
      sum += block.end - block.start;
    }
  }
  return sum;
}

} // namespace

TEST_CASE("plan::pipeline_timeline of a 1F1B plan on uniform stages: busy time and bubble as the plan costs them") {
  // GPT-3 175B on 512 A100s at a fixed 1F1B layout, no ZeRO-3: uniform 96 layers over 8 stages.
  const auto report = gpt3_on_512_a100("tp=8,pp=8,schedule=1f1b,vpp=1,zero=1,recompute=full,mbs=1,cp=1");
  REQUIRE_FALSE(report.search.plans.empty());
  const auto& plan = report.search.plans.front();
  const auto& details = report.details.front();
  const auto timeline = pipeline_timeline(plan, details, report.options.shape);
  REQUIRE(timeline.rows.size() == 8);
  const auto m = timeline.micro_batches;
  CHECK(m == 512 / plan.layout.dp);
  for (std::size_t s = 0; s < timeline.rows.size(); ++s) {
    const auto& pass = details.stages[s].pass;
    CHECK(busy(timeline.rows[s]) == doctest::Approx(m * (pass.forward_s() + pass.backward_s())).epsilon(1e-9));
  }
  // The slowest stage runs m passes of the plan's critical stage time and idles for its bubble.
  const auto& critical = timeline.rows[static_cast<std::size_t>(plan.step.critical_stage)];
  CHECK(busy(critical) == doctest::Approx(m * plan.step.critical_stage_s).epsilon(1e-9));
  CHECK(critical.idle_s == doctest::Approx(plan.step.bubble_s).epsilon(0.01));
  CHECK(timeline.step_s == doctest::Approx(plan.step.step_s).epsilon(0.01));
  // Blocks are in time order and do not overlap.
  for (const auto& row : timeline.rows) {
    for (std::size_t i = 1; i < row.blocks.size(); ++i) {
      CHECK(row.blocks[i].start >= row.blocks[i - 1].end - 1e-9);
    }
  }
}

TEST_CASE("plan::timeline_svg and plan_html carry the report's numbers") {
  const auto report = gpt3_on_512_a100("tp=8,pp=8,schedule=1f1b,vpp=1,zero=1,recompute=full,mbs=1,cp=1");
  REQUIRE_FALSE(report.search.plans.empty());
  const auto& plan = report.search.plans.front();
  const auto svg = find_emit_target("svg").write(report).text;
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find(fmt::format("data-bubble-fraction=\"{:.6g}\"", plan.step.bubble_fraction)) != std::string::npos);
  CHECK(svg.find(fmt::format("class=\"segment bubble\" data-kind=\"bubble\" data-seconds=\"{:.6g}\" data-fraction=\"{:.6g}\"",
                             plan.step.bubble_s, plan.step.bubble_fraction)) != std::string::npos);
  const auto html = find_emit_target("html").write(report).text;
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  // The page draws the same timeline: its bubble segment carries the plan's numbers too.
  CHECK(html.find(fmt::format("class=\"segment bubble\" data-kind=\"bubble\" data-seconds=\"{:.6g}\"", plan.step.bubble_s)) !=
        std::string::npos);
  CHECK(html.find("id=\"ranked-plans\"") != std::string::npos);
  CHECK(html.find(short_layout(plan.layout)) != std::string::npos);
  CHECK(html.find("class=\"stacked-bars\"") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
}

TEST_CASE("plan::plan_html without any plan still shows why") {
  const auto report = report_for("gpt-175b", "h200-node", "", 64);
  REQUIRE(report.search.plans.empty());
  const auto html = plan_html(report);
  CHECK(html.find("No layout fits") != std::string::npos);
  CHECK(html.find("id=\"rejected\"") != std::string::npos);
  CHECK_THROWS_AS((void)plan_timeline_svg(report), brix::JobError);
}

TEST_CASE("plan::pipeline_timeline draws every schedule") {
  for (const std::string schedule : {"interleaved,vpp=2", "zb-h1,vpp=1", "dualpipe,vpp=1"}) {
    CAPTURE(schedule);
    const auto report = gpt3_on_512_a100("tp=8,pp=8,zero=1,recompute=full,mbs=1,cp=1,schedule=" + schedule);
    REQUIRE_FALSE(report.search.plans.empty());
    const auto& plan = report.search.plans.front();
    const auto timeline = pipeline_timeline(plan, report.details.front(), report.options.shape);
    CHECK(timeline.rows.size() == 8);
    MESSAGE("drawn bubble ", timeline.rows[static_cast<std::size_t>(plan.step.critical_stage)].idle_s, " plan bubble ",
            plan.step.bubble_s, " step ", plan.step.step_s);
    CHECK(timeline.step_s == doctest::Approx(plan.step.step_s).epsilon(0.1));
  }
}
