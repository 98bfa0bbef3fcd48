// NeMo AutoModel's calibration rows (configs/calibration/heldout/nemo-automodel.yaml): what each
// row states from the AutoModel config and code at the commit that added its figure.
#include <support/calibration_run.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace brix::plan;

namespace {
CalibrationRun automodel_run(const std::string& id) {
  return brix::test::bundled_calibration_run("heldout/nemo-automodel.yaml", id);
}
} // namespace

TEST_CASE("plan::calibration: AutoModel's Llama 3.1 70B row reduce-scatters bf16 gradients") {
  // Its config sets no mp_policy, so FSDP2Config's default MixedPrecisionPolicy (reduce_dtype
  // bfloat16, nemo_automodel/components/distributed/config.py at 2013a4dd6) reaches fully_shard.
  const auto run = automodel_run("automodel-llama3-70b-h100-64-bf16");
  REQUIRE(run.grad_reduce_bytes.has_value());
  CHECK(*run.grad_reduce_bytes == doctest::Approx(2.0));

  // Half the fp32 reduce-scatter traffic: the row's step is shorter than with fp32 gradients.
  auto fp32 = run;
  fp32.grad_reduce_bytes = 4.0;
  const auto bf16_row = evaluate_run(run);
  const auto fp32_row = evaluate_run(fp32);
  REQUIRE(bf16_row.evaluated);
  REQUIRE(fp32_row.evaluated);
  CHECK(bf16_row.predicted < 0.97 * fp32_row.predicted);
}
