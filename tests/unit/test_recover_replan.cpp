#include <brix/recover/mapping.hpp>
#include <brix/recover/replan.hpp>

#include <doctest/doctest.h>

using namespace brix::recover;
namespace plan = brix::plan;

namespace {

plan::PlanFile make_plan(int tp, int pp, int dp, std::int64_t global, int zero = 1) {
  plan::PlanFile file;
  file.model = {"llama-3.1-8b", ""};
  file.cluster = {"test", ""};
  file.seq_len = 4096;
  file.layout.tp = tp;
  file.layout.pp = pp;
  file.layout.dp = dp;
  file.layout.zero = zero;
  file.batch = {global, 1, global / dp};
  return file;
}

const LayoutCheck k_fits = [](const plan::Layout&, int) { return std::vector<std::string>{}; };
const LayoutSearch k_no_search = [](int, std::string& why) -> std::optional<plan::Layout> {
  why = "search not expected";
  return std::nullopt;
};

} // namespace

TEST_CASE("recover::replan keeps the plan when enough nodes are left") {
  const auto old = make_plan(2, 2, 8, 64);
  const auto result = replan(old, 8, 4, k_fits, k_no_search);
  CHECK(result.decision == ReplanDecision::unchanged);
  CHECK(result.nodes == 4);
  CHECK_FALSE(result.layout_changed(old));
}

TEST_CASE("recover::replan shrinks dp and raises accumulation") {
  const auto old = make_plan(2, 2, 8, 64);
  const auto result = replan(old, 8, 3, k_fits, k_no_search);
  REQUIRE(result.decision == ReplanDecision::shrink_dp);
  CHECK(result.plan.layout.dp == 4); // 6 does not divide 64, 5 neither
  CHECK(result.plan.layout.tp == 2);
  CHECK(result.plan.layout.pp == 2);
  CHECK(result.plan.batch.accumulation == 16);
  CHECK(result.plan.batch.micro * result.plan.batch.accumulation * result.plan.layout.dp == 64);
  CHECK(result.nodes == 2);
  CHECK(result.tried.size() == 2);
  CHECK(result.tried[0].find("dp=6") != std::string::npos);
  CHECK_FALSE(result.layout_changed(old));
  CHECK(result.why.find("accumulation 8 -> 16 keeps the global batch 64") != std::string::npos);
}

TEST_CASE("recover::replan searches afresh when no smaller dp fits") {
  const auto old = make_plan(8, 2, 2, 64);
  const LayoutCheck too_big = [](const plan::Layout& layout, int) {
    return layout.dp == 1 ? std::vector<std::string>{"out of memory: 90 GiB > 80 GiB"}
                          : std::vector<std::string>{};
  };
  plan::Layout found;
  found.tp = 4;
  found.pp = 1;
  found.dp = 2;
  const LayoutSearch search = [&](int nodes, std::string&) -> std::optional<plan::Layout> {
    CHECK(nodes == 2);
    return found;
  };
  const auto result = replan(old, 8, 2, too_big, search);
  REQUIRE(result.decision == ReplanDecision::fresh_search);
  CHECK(result.plan.layout.tp == 4);
  CHECK(result.plan.batch.accumulation == 32);
  CHECK(result.layout_changed(old));
  REQUIRE(result.tried.size() == 1);
  CHECK(result.tried[0].find("out of memory") != std::string::npos);

  const auto none = replan(old, 8, 0, too_big, k_no_search);
  CHECK(none.decision == ReplanDecision::impossible);
  CHECK(none.why.find("no nodes left") != std::string::npos);
}

TEST_CASE("recover::map_layouts with tp and pp kept") {
  const auto old = make_plan(2, 2, 4, 64);
  auto now = old;
  now.layout.dp = 2;
  const auto mapping = map_layouts(old, now, 32);
  REQUIRE(mapping.size() == 8);
  // Megatron order tp-cp-ep-dp-pp: rank = tp + 2·dp + 2·2·pp (new), 2·4·pp (old).
  const auto& r5 = mapping[5]; // tp 1, dp 0, pp 1
  CHECK(r5.tp == 1);
  CHECK(r5.dp == 0);
  CHECK(r5.pp == 1);
  CHECK(r5.first_layer == 16);
  CHECK(r5.last_layer == 31);
  CHECK(r5.weights == std::vector<int>{9});               // old tp 1, dp 0, pp 1
  CHECK(r5.optimizer == std::vector<int>{9, 11, 13, 15}); // ZeRO: every old dp replica
  CHECK(mapping[7].weights == std::vector<int>{11});      // new dp 1 reads old replica 1
}

TEST_CASE("recover::map_layouts when tp and pp change") {
  const auto old = make_plan(2, 2, 1, 8, 0);
  const auto now = make_plan(1, 4, 1, 8, 0);
  const auto mapping = map_layouts(old, now, 32);
  REQUIRE(mapping.size() == 4);
  // New pp 1 holds layers 8-15: old pp 0 (layers 0-15), both tp halves (old ranks 0, 1).
  CHECK(mapping[1].first_layer == 8);
  CHECK(mapping[1].weights == std::vector<int>{0, 1});
  CHECK(mapping[3].weights == std::vector<int>{2, 3});
  CHECK(mapping[3].optimizer == mapping[3].weights); // no ZeRO
  CHECK(describe(mapping[3]) == "new rank 3 (tp 0, cp 0, dp 0, pp 3; layers 24-31) <- weights old 2,3");
}
