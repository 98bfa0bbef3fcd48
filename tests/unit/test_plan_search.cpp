#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/calibration.hpp>
#include <brix/plan/search.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>

using namespace brix::plan;

namespace {
SearchOptions options_for(std::int64_t batch, std::int64_t seq) {
  SearchOptions options;
  options.shape = {batch, seq};
  options.top_k = 5;
  return options;
}
} // namespace

TEST_CASE("plan::parse_layout_query") {
  const auto query = parse_layout_query("tp=8,pp=4,dp=2,ep=1,mbs=1,vpp=1,recompute=selective,zero=1");
  CHECK(*query.tp == 8);
  CHECK(*query.recompute == Recompute::selective);
  CHECK_FALSE(query.cp.has_value());
  CHECK_FALSE(query.complete());
  CHECK_THROWS_AS((void)parse_layout_query("tpp=8"), brix::InputError);
  CHECK_THROWS_AS((void)parse_layout_query("tp=0"), brix::InputError);
  CHECK_THROWS_AS((void)parse_layout_query("zero=4"), brix::InputError);
  CHECK_THROWS_AS((void)parse_layout_query("recompute=some"), brix::InputError);
}

TEST_CASE("plan::search_layouts finds valid, ranked plans for a dense model") {
  const auto model = brix::model::load_model("llama-3.1-70b");
  const auto cluster = brix::cluster::shorthand_cluster(8, 8, "h100-sxm", std::nullopt, std::nullopt);
  const auto result = search_layouts(model, cluster, options_for(512, 4096));
  REQUIRE_FALSE(result.plans.empty());
  CHECK(result.evaluated > 1000);
  for (std::size_t i = 1; i < result.plans.size(); ++i) {
    CHECK(result.plans[i - 1].step.step_s <= result.plans[i].step.step_s);
  }
  for (const auto& plan : result.plans) {
    CHECK(plan.layout.world() == 64);
    CHECK(plan.layout.tp <= 8);
    CHECK(plan.memory.total <= 80.0 * 1e9 * 1.1);
    CHECK(plan.mfu > 0.2);
    CHECK(plan.mfu < 0.8);
    CHECK(plan.hfu >= plan.mfu - 1e-9);
  }
  // Every layout is accounted for: valid, or rejected under a reason.
  std::int64_t rejected = 0;
  for (const auto& group : result.rejected) {
    rejected += group.count;
  }
  CHECK(rejected + result.valid == result.evaluated);
  // TP beyond the node is reported as a family, not silently skipped.
  bool crosses = false;
  for (const auto& group : result.rejected) {
    crosses = crosses || group.reason.find("TP=16 crosses nodes") != std::string::npos;
  }
  CHECK(crosses);
}

TEST_CASE("plan::search_layouts is the same with more threads") {
  const auto model = brix::model::load_model("llama-3.1-8b");
  const auto cluster = brix::cluster::shorthand_cluster(4, 8, "a100-sxm-80gb", std::nullopt, std::nullopt);
  auto options = options_for(256, 4096);
  const auto one = search_layouts(model, cluster, options);
  options.threads = 2;
  const auto two = search_layouts(model, cluster, options);
  REQUIRE(one.plans.size() == two.plans.size());
  for (std::size_t i = 0; i < one.plans.size(); ++i) {
    CHECK(to_string(one.plans[i].layout) == to_string(two.plans[i].layout));
  }
}

TEST_CASE("plan::explain_layout names every problem of the seed's TP8×PP4×DP2 for DeepSeek-R1") {
  const auto model = brix::model::load_model("deepseek-r1");
  const auto cluster = brix::cluster::load_cluster("example-deployment");
  const auto layout = complete_layout(parse_layout_query("tp=8,pp=4,dp=2"));
  const auto verdict = explain_layout(model, cluster, options_for(1024, 4096), layout);
  REQUIRE(verdict.problems.size() >= 2);
  bool world = false, memory = false;
  for (const auto& problem : verdict.problems) {
    world = world || problem.find("64 ranks, but the cluster has 160 GPUs") != std::string::npos;
    memory = memory || problem.find("out of memory") != std::string::npos;
  }
  CHECK(world);
  CHECK(memory);
  REQUIRE(verdict.estimate.has_value());
  CHECK(verdict.estimate->memory.total > 80.0 * 1024 * 1024 * 1024);
}

TEST_CASE("plan::calibration against published Megatron-LM runs") {
  const auto report = run_calibration(std::string(BRIX_TEST_SOURCE_DIR) + "/configs/calibration/megatron-2021.yaml");
  REQUIRE(report.rows.size() >= 30);
  std::printf("%-6s %-12s %6s %-15s %10s %10s %8s\n", "table", "model", "GPUs", "metric", "published", "predicted", "error");
  for (const auto& row : report.rows) {
    std::printf("%-6s %-12s %6d %-15s %10.3f %10.3f %+7.1f%%  %s\n", row.table.c_str(), row.model.c_str(), row.gpus,
                row.metric.c_str(), row.published, row.predicted, row.error * 100, row.note.c_str());
    CHECK_MESSAGE(std::abs(row.error) <= 0.15, row.table, " ", row.model, " ", row.layout);
  }
  std::printf("mean absolute error %.1f%%, max %.1f%%\n", report.mean_abs_error * 100, report.max_abs_error * 100);
  CHECK(report.mean_abs_error < 0.10);
}
