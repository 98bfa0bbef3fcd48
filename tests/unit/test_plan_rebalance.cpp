#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/rebalance.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <numeric>

using namespace brix::plan;

namespace {

struct Job {
  brix::model::ModelSpec model = brix::model::load_model("llama-3.1-70b");
  brix::cluster::ClusterSpec cluster = brix::cluster::load_cluster("shorthand:nodes=4,gpus_per_node=8,gpu=h100-sxm");
  PlanFile plan;
  SearchOptions options;
  Job() {
    plan.path = "plan.yaml";
    plan.seq_len = 4096;
    plan.batch = {64, 1, 64};
    plan.layout.tp = 8;
    plan.layout.pp = 4;
    plan.layout.dp = 1;
    plan.layout.recompute = Recompute::selective;
    options.shape = {64, 4096};
  }
};

double total(const std::vector<RebalanceStage>& stages) {
  return std::accumulate(stages.begin(), stages.end(), 0.0,
                         [](double sum, const RebalanceStage& s) { return sum + s.measured_s; });
}

} // namespace

TEST_CASE("plan::rebalance_stages moves layers off the stage measured slowest") {
  const Job job;
  const auto result = rebalance_stages(job.model, job.cluster, job.plan, job.options, {10.0, 10.2, 10.1, 13.5});
  REQUIRE(result.before.size() == 4);
  REQUIRE(result.after.size() == 4);
  CHECK(result.before_slowest_s == doctest::Approx(13.5));
  CHECK(result.gain() > 0.1);
  CHECK(result.after_slowest_s < 12.0);
  // The slow stage gives layers away; the split still covers every layer once.
  CHECK(result.after[3].last_layer - result.after[3].first_layer < result.before[3].last_layer - result.before[3].first_layer);
  CHECK(result.after.front().first_layer == 0);
  CHECK(result.after.back().last_layer == job.model.layers - 1);
  for (std::size_t s = 1; s < result.after.size(); ++s) {
    CHECK(result.after[s].first_layer == result.after[s - 1].last_layer + 1);
  }
  // Same GPUs everywhere: the measured work is conserved, only redistributed.
  CHECK(total(result.after) == doctest::Approx(total(result.before)).epsilon(1e-9));
  const auto file = rebalanced_plan(job.plan, result);
  REQUIRE(file.stages.size() == 4);
  CHECK(file.stages[3].first_layer == result.after[3].first_layer);
}

TEST_CASE("plan::rebalance_stages keeps a split that measures balanced") {
  const Job job;
  // Every stage measured equally long: no layer can move without slowing its new stage.
  const auto same = rebalance_stages(job.model, job.cluster, job.plan, job.options, {5, 5, 5, 5});
  CHECK(same.gain() == doctest::Approx(0.0));
  CHECK(same.after[2].first_layer == same.before[2].first_layer);
}

TEST_CASE("plan::rebalance_stages refuses mismatched input") {
  const Job job;
  CHECK_THROWS_AS((void)rebalance_stages(job.model, job.cluster, job.plan, job.options, {1, 2, 3}), brix::InputError);
  Job interleaved;
  interleaved.plan.layout.vpp = 2;
  CHECK_THROWS_AS((void)rebalance_stages(interleaved.model, interleaved.cluster, interleaved.plan, interleaved.options, {1, 1, 1, 1}),
                  brix::InputError);
}
