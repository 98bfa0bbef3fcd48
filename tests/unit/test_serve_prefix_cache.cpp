// serve: prompts whose first tokens the engine's prefix cache already holds (Workload::
// cached_tokens) — prefill computes the rest, which attend to the cached keys; the served prompt
// rate, the KV pool and the P/D transfer still count whole prompts.
#include <brix/model/loader.hpp>
#include <brix/model/params.hpp>
#include <brix/serve/calibration.hpp>
#include <brix/serve/device.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/performance.hpp>
#include <brix/serve/serve_run.hpp>
#include <brix/serve/step_time.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>
#include <support/serve_device.hpp>
#include <support/served_model.hpp>
#include <support/temp_dir.hpp>

#include <string>

using namespace brix;
using namespace brix::serve;

namespace {

/// Llama-3.1-8B (dense, full attention) on one H100 at TP 1, vLLM.
struct Dense : test::ServedModel {
  static constexpr InstanceShape tp1{1, 1, 1, 1, 1};
  Dense() : ServedModel("llama-3.1-8b", "h100-sxm", Engine::vllm, WeightPrecision::bf16) {}
  [[nodiscard]] StepContext step(double cached) const {
    auto step = step_context(context, tp1);
    step.cached_prefix = cached;
    return step;
  }
};

Workload closed_loop(std::int64_t isl, std::int64_t cached, double concurrency, std::int64_t osl = 256) {
  Workload workload{.isl = isl, .osl = osl, .concurrency = concurrency};
  workload.cached_tokens = cached;
  return workload;
}

} // namespace

TEST_CASE("serve::prefill_step: computed tokens attend to a cached prefix they do not recompute") {
  const Dense dense;
  // 1,024 new tokens after 7,168 cached: the GEMMs see 1,024 tokens, the attention of each new
  // token spans ~7,680 keys on average, so the step sits between a 1,024-token prompt alone and
  // the whole 8,192-token prompt.
  const double alone = prefill_step(dense.step(0), 1024, 1024).seconds;
  const double after_cache = prefill_step(dense.step(7168), 1024, 1024).seconds;
  const double whole = prefill_step(dense.step(0), 8192, 8192).seconds;
  CHECK(after_cache > alone);
  CHECK(after_cache < whole / 4.0);
  // The attention arithmetic grows by the keys: (7,168 + 512) / 512 = 15 times the lone
  // prompt's causal average.
  const auto lone = prefill_step(dense.step(0), 1024, 1024);
  const auto cached = prefill_step(dense.step(7168), 1024, 1024);
  CHECK(cached.attention_s == doctest::Approx(lone.attention_s * 15.0).epsilon(0.02));
  // No prefix: exactly the old step.
  CHECK(prefill_step(dense.step(0), 2048, 2048).seconds ==
        prefill_step(step_context(dense.context, Dense::tp1), 2048, 2048).seconds);
}

TEST_CASE("model::causal_attended_keys: the sums behind a cached prefix's mean keys") {
  // With a window of 128 and a prefix of 4,096 cached tokens, every new query attends 128 keys.
  const double window = 128;
  const double cached = 4096;
  const double fresh = 1024;
  const double whole = cached + fresh;
  auto sum = [](double w, double n) { return n * model::causal_attended_keys(w, n); };
  const double mean = (sum(window, whole) - sum(window, cached)) / fresh;
  CHECK(mean == doctest::Approx(128.0));
  // Full attention: the mean position of the new queries.
  const double full = (sum(0, whole) - sum(0, cached)) / fresh;
  CHECK(full == doctest::Approx(cached + fresh / 2.0));
}

TEST_CASE("serve::aggregated_performance: a prefix cache lifts prefill-heavy throughput, cuts a lone prompt's TTFT") {
  Dense dense;
  // 8,192-token prompts, 32 out, 40 in flight on one H100: prefill-heavy without a cache.
  const auto cold_load = closed_loop(8192, 0, 40, 32);
  const auto warm_load = closed_loop(8192, 7168, 40, 32);
  auto cold_role = cost_role(dense.context, {Dense::tp1, 1}, cold_load, k_chunk_tokens);
  auto warm_role = cost_role(dense.context, {Dense::tp1, 1}, warm_load, k_chunk_tokens);
  // The pool is sized for whole requests either way.
  CHECK(warm_role.max_sequences == cold_role.max_sequences);
  // Computed prompt tokens per second: a 1,024-token tail attends ~7,680 keys per token where a
  // whole 8,192-token prompt averages 4,096, so the tail is slower per token, yet its prompt
  // takes a fraction of the whole one's time.
  CHECK(warm_role.prefill_tokens_per_s < cold_role.prefill_tokens_per_s);
  CHECK(1024.0 / warm_role.prefill_tokens_per_s < 0.25 * 8192.0 / cold_role.prefill_tokens_per_s);
  const auto cold = aggregated_performance(dense.context, cold_role, cold_load);
  const auto warm = aggregated_performance(dense.context, warm_role, warm_load);
  // Cold, prefill is busy most of the time (its chunks also stretch the decode steps).
  REQUIRE(cold.request_rate * 8192.0 / cold_role.prefill_tokens_per_s > 0.8);
  CHECK(warm.request_rate > 2.0 * cold.request_rate);
  // At 40 in flight a TTFT is a full chunk either way (eight 1,024-token tails share one); one
  // request alone computes only its tail.
  const auto lone_cold = aggregated_performance(dense.context, cold_role, closed_loop(8192, 0, 1, 32));
  const auto lone_warm = aggregated_performance(dense.context, warm_role, closed_loop(8192, 7168, 1, 32));
  CHECK(lone_warm.ttft_s < 0.5 * lone_cold.ttft_s);
  // Prompt tokens served still count whole prompts.
  CHECK(warm.input_tokens_per_s == doctest::Approx(warm.request_rate * 8192.0));
  // A closed loop finishes prompts no faster than the computed part runs back to back.
  CHECK(warm.request_rate <= warm_role.prefill_tokens_per_s / 1024.0 * 1.0001);
}

TEST_CASE("serve::disaggregated_performance: the whole prompt's KV crosses to decode, cached or not") {
  Dense dense;
  // One request in flight: the decode batch is that one request either way.
  const auto cold_load = closed_loop(4096, 0, 1);
  const auto warm_load = closed_loop(4096, 4000, 1);
  Workload cold_prompts = cold_load;
  cold_prompts.osl = 1;
  Workload warm_prompts = warm_load;
  warm_prompts.osl = 1;
  auto cold_prefill = cost_role(dense.context, {Dense::tp1, 1}, cold_prompts, k_prefill_chunk_tokens);
  auto warm_prefill = cost_role(dense.context, {Dense::tp1, 1}, warm_prompts, k_prefill_chunk_tokens);
  auto cold_decode = cost_role(dense.context, {Dense::tp1, 1}, cold_load, k_chunk_tokens);
  auto warm_decode = cost_role(dense.context, {Dense::tp1, 1}, warm_load, k_chunk_tokens);
  const auto cold = disaggregated_performance(dense.context, cold_prefill, cold_decode, cold_load);
  const auto warm = disaggregated_performance(dense.context, warm_prefill, warm_decode, warm_load);
  CHECK(warm.kv_transfer_s == doctest::Approx(cold.kv_transfer_s));
  CHECK(warm.ttft_s < cold.ttft_s);
  CHECK(warm.tpot_s == doctest::Approx(cold.tpot_s));
}

TEST_CASE("serve: --cached-tokens must leave a token to compute") {
  ServeRequest request;
  request.cluster.nodes = 1;
  request.cluster.gpu = "h100-sxm";
  request.model = "llama-3.1-8b";
  request.isl = 2048;
  request.cached_tokens = 2048;
  CHECK_THROWS_AS((void)run_serve(request), InputError);
  request.cached_tokens = -1;
  CHECK_THROWS_AS((void)run_serve(request), InputError);
  request.cached_tokens = 2047;
  const auto report = run_serve(request);
  CHECK(report.workload.cached_tokens == 2047);
  REQUIRE_FALSE(report.groups.front().result.plans.empty());
}

namespace {
/// A calibration file of one Llama-3.1-8B serve row at 1 in flight, 8,192-token prompts, with
/// `extra` lines added to the row.
std::string one_row(const std::string& extra) {
  return "runs:\n  - id: warm\n    set: fit\n    source: test\n    url: https://example.org\n    quote: q\n"
         "    model: llama-3.1-8b\n    gpu: h100-sxm\n    nodes: 1\n    engine: vllm\n    engine_version: \"0.11\"\n"
         "    phase: serve\n    layout: \"tp=1,pp=1,instances=1\"\n    isl: 8192\n    osl: 64\n    concurrency: 1\n" +
         extra + "    metric: ttft_s\n    published: 1\n    assumptions: none\n";
}
} // namespace

TEST_CASE("serve calibration: a row's cached_tokens costs its prompts warm, and must leave one to compute") {
  const test::TempDir dir;
  const auto cold = run_serving_calibration(dir.write("cold.yaml", one_row("")));
  const auto warm = run_serving_calibration(dir.write("warm.yaml", one_row("    cached_tokens: 8000\n")));
  REQUIRE(cold.rows.size() == 1);
  REQUIRE(warm.rows.size() == 1);
  CHECK(warm.rows[0].predicted < 0.5 * cold.rows[0].predicted);
  // The whole prompt cached: refused at the key's line.
  const auto bad = dir.write("bad.yaml", one_row("    cached_tokens: 8192\n"));
  try {
    (void)run_serving_calibration(bad);
    FAIL("cached_tokens = isl accepted");
  } catch (const InputError& error) {
    const std::string what = error.what();
    CHECK(what.find("bad.yaml:17") != std::string::npos);
    CHECK(what.find("cached_tokens") != std::string::npos);
    CHECK(what.find("fewer than isl") != std::string::npos);
  }
}

TEST_CASE("serve::prefill_step: MLA up-projects a cached prefix's latents for prefill attention") {
  const auto model = model::load_model("deepseek-r1");
  const auto device = test::serve_device_on("h200-sxm");
  // TP 8: 16 of the 128 heads per rank. 8 sequences of 96 new tokens after 4,000 cached each.
  StepContext step{&model, &device, InstanceShape{8, 1, 1, 1, 8}, WeightPrecision::fp8, KvPrecision::bf16, false};
  const auto cold = prefill_step(step, 768, 96);
  step.cached_prefix = 4000;
  const auto warm = prefill_step(step, 768, 96);
  // kv_b_proj again over every cached latent: 2 x (8 x 4,000 rows) x 512 x 16 x (128 + 128) per
  // layer, 61 layers, at no more than the bf16 peak.
  const double flops = 61.0 * 2.0 * 8.0 * 4000.0 * 512.0 * 16.0 * 256.0;
  CHECK(warm.gemm_s - cold.gemm_s >= flops / device.bf16_flops);
  CHECK(warm.gemm_s - cold.gemm_s <= 4.0 * flops / device.bf16_flops);
  // A dense GQA model pays no such term: its cached keys are read as they are.
  const auto llama = model::load_model("llama-3.1-8b");
  StepContext dense{&llama, &device, InstanceShape{1, 1, 1, 1, 1}, WeightPrecision::bf16, KvPrecision::bf16, false};
  const auto dense_cold = prefill_step(dense, 768, 96);
  dense.cached_prefix = 4000;
  CHECK(prefill_step(dense, 768, 96).gemm_s == doctest::Approx(dense_cold.gemm_s));
}
