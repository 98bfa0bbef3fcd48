// serve::admission: each engine's admission rule as KV tokens held per request and the running
// batch a pool admits.
#include <brix/serve/admission.hpp>
#include <brix/serve/engines.hpp>

#include <doctest/doctest.h>

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
