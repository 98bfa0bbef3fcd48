// torchtitan's calibration rows (configs/calibration/fit/torchtitan.yaml): what each row states
// from the torchtitan code at the commit its source names, where the published table is silent.
#include <support/calibration_run.hpp>

#include <brix/plan/layout_parse.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <string>

using namespace brix::plan;

namespace {
CalibrationRun torchtitan_run(const std::string& id) {
  return brix::test::bundled_calibration_run("fit/torchtitan.yaml", id);
}
} // namespace

TEST_CASE("plan::calibration: torchtitan's 405B 3D rows run 9dec370's pipeline defaults") {
  // docs/performance.md (Jan 2025) prints 'Local batch size 32' and the schedule only. torchtitan
  // 9dec370 splits a local batch into pipeline_parallel_degree micro-batches when none are given
  // (pipelining_utils.py build_pipeline_schedule) and gives an Interleaved1F1B two stages per rank
  // (generate_split_points), first and last stage one layer fewer.
  const int local_batch = 32;
  const auto one_f_one_b = torchtitan_run("torchtitan-2412-llama31-405b-h100x-512-3d-1f1b");
  const auto interleaved = torchtitan_run("torchtitan-2412-llama31-405b-h100x-512-3d-interleaved");
  for (const auto* run : {&one_f_one_b, &interleaved}) {
    CAPTURE(run->id);
    const auto query = parse_layout_query(run->layout);
    REQUIRE(query.pp.has_value());
    REQUIRE(query.micro_batch.has_value());
    CHECK(*query.micro_batch * *query.pp == local_batch); // pp micro-batches per local batch
    CHECK(query.pp_embedding == std::optional<bool>(true));
    CHECK(query.pp_loss == std::optional<bool>(true));
  }
  CHECK(parse_layout_query(interleaved.layout).vpp == std::optional<int>(2));

  // Costed so, each schedule lands near its published tokens/s (100 and 128), interleaved ahead.
  const auto slow = evaluate_run(one_f_one_b);
  const auto fast = evaluate_run(interleaved);
  REQUIRE(slow.evaluated);
  REQUIRE(fast.evaluated);
  CHECK(std::abs(slow.error) < 0.08);
  CHECK(std::abs(fast.error) < 0.08);
  CHECK(fast.predicted > 1.15 * slow.predicted);
}
