// serve::admission: each engine's admission rule as KV tokens held per request and the running
// batch a pool admits; a closed loop beyond that batch waits in the engine's queue (TTFT grows by
// the wait, TPOT and throughput stay the capped batch's); calibration costs published runs with
// the engine's default rule.
#include <brix/serve/admission.hpp>
#include <brix/serve/calibration.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/performance.hpp>

#include <doctest/doctest.h>
#include <support/serve_nim.hpp>
#include <support/temp_dir.hpp>

#include <string>

using namespace brix;
using namespace brix::serve;

TEST_CASE("serve::held_tokens_per_request: each engine's admission rule, in whole blocks") {
  // 5,000 prompt tokens and 500 output tokens, NVIDIA NIM's Llama-3.3-70B workload.
  const auto vllm = default_admission(Engine::vllm);
  const auto sglang = default_admission(Engine::sglang);
  const auto trtllm = default_admission(Engine::trtllm);
  CHECK(vllm.admission == Admission::on_demand);
  CHECK(sglang.admission == Admission::reserve_ratio);
  CHECK(trtllm.admission == Admission::reserve_output);
  // vLLM: the context on average over the request's life, 5,250 tokens, in blocks of 16 (329).
  CHECK(held_tokens_per_request(vllm, 5000, 500) == 5264.0);
  // SGLang: 5,250 plus 0.098 of the 250 output tokens still to come on average (page size 1).
  CHECK(held_tokens_per_request(sglang, 5000, 500) == 5275.0);
  // TensorRT-LLM: prompt and every output token from admission on, 5,500 in blocks of 32 (172).
  CHECK(held_tokens_per_request(trtllm, 5000, 500) == 5504.0);
  // Whole requests per rank, at most the engine's running cap.
  CHECK(admitted_sequences(trtllm, 472271, 5000, 500, 1024) == 85);
  CHECK(admitted_sequences(vllm, 472271, 5000, 500, 1024) == 89);
  CHECK(admitted_sequences(vllm, 472271, 5000, 500, 64) == 64);
  CHECK(admitted_sequences(trtllm, 5000, 5000, 500, 1024) == 0);
}

TEST_CASE("serve::aggregated_performance: requests beyond the KV pool's batch wait for a running one to finish") {
  // NIM's deployment: Llama-3.3-70B FP8 with an FP8 KV cache on 2 H100s (TP 2), 5,000/500 tokens.
  const test::NimLlama70b nim;
  auto at = [&](double concurrency, RoleEstimate& role) {
    const auto workload = test::NimLlama70b::at(concurrency);
    role = nim.role_for(workload);
    return aggregated_performance(nim.context, role, workload);
  };
  RoleEstimate role;
  const auto capped = at(100, role);
  const double cap = static_cast<double>(role.max_concurrency);
  REQUIRE(cap > 50);
  REQUIRE(cap < 100);
  RoleEstimate full_role;
  const auto full = at(cap, full_role);
  CHECK(full.kv_waiting == 0);
  CHECK(full.limit != Limit::kv_cache);
  // The running batch is the pool's: same decode step, TPOT and throughput as at the cap.
  CHECK(role.batch == doctest::Approx(cap));
  CHECK(capped.tpot_s == doctest::Approx(full.tpot_s));
  CHECK(capped.output_tokens_per_s == doctest::Approx(full.output_tokens_per_s));
  // The 100 − cap others wait: a new request has them ahead of it, and requests finish at the rate.
  CHECK(capped.limit == Limit::kv_cache);
  CHECK(capped.kv_waiting == doctest::Approx(100.0 - cap));
  CHECK(capped.kv_wait_s == doctest::Approx((100.0 - cap) / full.request_rate));
  CHECK(capped.ttft_s == doctest::Approx(full.ttft_s + capped.kv_wait_s));
  CHECK(capped.kv_wait_s > 5.0 * full.ttft_s);
}

TEST_CASE("serve calibration: a published run beyond the pool's batch is costed with the engine's queue") {
  // NIM's c50 and c100 rows: TensorRT-LLM admits 85 of 5,504 reserved tokens each; at 100 in
  // flight 15 wait (published TTFT 8.0 s against 0.83 s at 50).
  const test::TempDir dir;
  std::string rows = "runs:\n";
  for (const int concurrency : {50, 100}) {
    rows += "  - id: nim-c" + std::to_string(concurrency) +
            "\n    set: heldout\n    source: NIM benchmarking guide\n    url: https://docs.nvidia.com/nim/benchmarking/"
            "llm/1.0.0/performance\n    quote: table\n    model: llama-3.1-70b\n    gpu: h100-sxm\n    nodes: 1\n"
            "    engine: trtllm\n    engine_version: \"1.0\"\n    phase: serve\n"
            "    layout: \"tp=2,pp=1,instances=1,weights=fp8,kv=fp8\"\n    isl: 5000\n    osl: 500\n"
            "    concurrency: " +
            std::to_string(concurrency) + "\n    metric: ttft_s\n    published: 1\n    assumptions: none\n";
  }
  const auto report = run_serving_calibration(dir.write("serving.yaml", rows));
  REQUIRE(report.rows.size() == 2);
  const auto& half = report.rows[0];
  const auto& full = report.rows[1];
  CHECK(half.note == "decode-bound");
  CHECK(full.note == "KV cache-bound");
  CHECK(full.predicted > 5.0 * half.predicted);
}
