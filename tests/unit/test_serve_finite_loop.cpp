// serve: a benchmark client's finite closed loop — the first wave queued in front of prefill, the
// slots that run one request more, the drain — and what it does to an operating point.
#include <brix/model/loader.hpp>
#include <brix/serve/finite_loop.hpp>
#include <brix/serve/performance.hpp>

#include <doctest/doctest.h>
#include <support/serve_device.hpp>
#include <support/serve_nim.hpp>
#include <support/served_model.hpp>

using namespace brix;
using namespace brix::serve;

namespace {

/// DeepSeek-R1's FP8 checkpoint with a bf16 KV cache on one 8 x H200 node, served by `engine`.
struct DeepSeekOnH200 : test::ServedModel {
  explicit DeepSeekOnH200(Engine engine) : ServedModel("deepseek-r1", "h200-sxm", engine, WeightPrecision::fp8) {}
};

} // namespace

TEST_CASE("serve::first_wave_ttfts: prompts arriving together wait for the chunks before theirs") {
  // A chunk of t tokens takes t ms; 3,000-token prompts, 8,192-token chunks, one rank: 12,000
  // tokens in a full chunk (8.192 s) and the rest (3.808 s). Prompts 1-2 end in the first chunk,
  // 3-4 in the second; the first token leaves 0.5 s after.
  FirstWave wave{4, 1, 3000, 8192, 0.5, [](double tokens) { return tokens / 1000.0; }};
  const auto ttfts = first_wave_ttfts(wave);
  REQUIRE(ttfts.size() == 4);
  CHECK(ttfts[0] == doctest::Approx(8.692));
  CHECK(ttfts[1] == doctest::Approx(8.692));
  CHECK(ttfts[2] == doctest::Approx(12.5));
  CHECK(ttfts[3] == doctest::Approx(12.5));
  // Dealt round-robin over two ranks: 2 and 1 prompts, each rank its own chunks.
  wave.prompts = 3;
  wave.ranks = 2;
  const auto dealt = first_wave_ttfts(wave);
  REQUIRE(dealt.size() == 3);
  CHECK(dealt[0] == doctest::Approx(3.5));  // the lone prompt: one 3,000-token chunk
  CHECK(dealt[1] == doctest::Approx(6.5));  // rank 0's 6,000 tokens in one chunk
  CHECK(dealt[2] == doctest::Approx(6.5));
}

TEST_CASE("serve::finite_closed_loop: mean TTFT over all requests, makespan to the last slot's end") {
  // Two slots, five requests: the slot whose first request ends first runs three.
  const auto run = finite_closed_loop({1.0, 2.0}, 1.0, 10.0, 5.0, 5);
  // TTFTs: slot 0 1 + 1 + 1, slot 1 2 + 1; mean 6 / 5.
  CHECK(run.mean_ttft_s == doctest::Approx(1.2));
  // Slot 0: 1 + 2 × (1 + 10) + 5 = 28; slot 1: 2 + 11 + 5 = 18.
  CHECK(run.makespan_s == doctest::Approx(28.0));
  CHECK(run.concurrency == doctest::Approx(46.0 / 28.0));
  // Every request sent at once (N = c): the run is its first wave and the drain.
  const auto burst = finite_closed_loop({1.0, 2.0}, 1.0, 10.0, 5.0, 2);
  CHECK(burst.mean_ttft_s == doctest::Approx(1.5));
  CHECK(burst.makespan_s == doctest::Approx(7.0));
}

TEST_CASE("serve::finite_closed_loop: later prefill groups wait behind the group before them") {
  // Four slots in two groups (first tokens at 1 s and 3 s: the second group's prompts took a 2 s
  // prefill iteration after the first's), eight requests, 10 s decode, 5 s drain, 0.5 s TTFT.
  const std::vector<double> wave{1.0, 1.0, 3.0, 3.0};
  const auto plain = finite_closed_loop(wave, 0.5, 10.0, 5.0, 8);
  const auto chained = finite_closed_loop(wave, 0.5, 10.0, 5.0, 8, 4.0);
  // The first group's second requests find a decode step; the second group's find the first
  // group's prefill (3 − 1 = 2 s) running and wait for it.
  CHECK(plain.mean_ttft_s == doctest::Approx((2 * 1.0 + 2 * 3.0 + 4 * 0.5) / 8));
  CHECK(chained.mean_ttft_s == doctest::Approx((2 * 1.0 + 2 * 3.0 + 2 * 0.5 + 2 * 2.5) / 8));
  CHECK(chained.makespan_s == doctest::Approx(3.0 + 2.5 + 10.0 + 5.0));
  // A group whose prompts took several chunks came back during the previous group's last chunk:
  // the wait is at most one chunk.
  const auto capped = finite_closed_loop(wave, 0.5, 10.0, 5.0, 8, 0.75);
  CHECK(capped.mean_ttft_s == doctest::Approx((2 * 1.0 + 2 * 3.0 + 2 * 0.5 + 2 * 1.25) / 8));
  // One group (every first-wave prompt in one iteration): nothing to wait behind.
  const auto one = finite_closed_loop({1.0, 1.0}, 0.5, 10.0, 5.0, 4, 4.0);
  CHECK(one.mean_ttft_s == doctest::Approx((2 * 1.0 + 2 * 0.5) / 4));
}

TEST_CASE("serve::aggregated_performance: a finite run counts the first wave's queue and the drain") {
  // dstack's SGLang run: DeepSeek-R1 on 8 x H200, attention DP 8, 3,200-token prompts, 64 in
  // flight, 500 prompts in all (bench_serving.py --num-prompts 500 --max-concurrency 64).
  const DeepSeekOnH200 deployment{Engine::sglang};
  const auto& context = deployment.context;
  Workload workload{.isl = 3200, .osl = 800, .concurrency = 64};
  auto role = cost_role(context, {InstanceShape{1, 1, 8, 1, 8}, 1}, workload, 4096);
  const auto steady = aggregated_performance(context, role, workload);
  workload.num_prompts = 500;
  const auto finite = aggregated_performance(context, role, workload);
  // The wave: 8 prompts per rank, 25,600 tokens in 4,096-token chunks: the k-th is done after
  // ceil(k × 3,200 / 4,096) of them. 64 of the 500 requests carry that wait.
  const double chunk = prefill_step(step_context(context, role.plan.shape), 4096, 3200).seconds;
  const double waves = (1 + 2 + 3 + 4 + 4 + 5 + 6 + 7) / 8.0; // chunks before each of a rank's 8
  const double wave_wait = (waves - 1.0) * chunk;
  MESSAGE("steady TTFT ", steady.ttft_s, " s, finite ", finite.ttft_s, " s; chunk ", chunk, " s");
  CHECK(finite.ttft_s > steady.ttft_s + 0.5 * 64.0 / 500.0 * wave_wait);
  CHECK(finite.ttft_s - finite.queue_s == doctest::Approx(steady.ttft_s - steady.queue_s));
  // Throughput is total output over the whole run: the wave's slots start late, and the last
  // requests decode at the bare step once no prompt is left to prefill.
  const auto step = step_context(context, role.plan.shape);
  const FirstWave wave{64, 8, 3200, 4096, role.decode.seconds,
                       [&](double tokens) { return prefill_step(step, tokens, 3200).seconds; }};
  // The wave's later groups wait behind the group before them each time they come back.
  const auto run = finite_closed_loop(first_wave_ttfts(wave), steady.ttft_s, 799 * steady.tpot_s,
                                      799 * role.decode.seconds, 500, chunk);
  CHECK(finite.request_rate == doctest::Approx(500 / run.makespan_s));
  CHECK(finite.output_tokens_per_s == doctest::Approx(800 * 500 / run.makespan_s));
  // What the client prints as its mean concurrency (dstack's CSV: 62.581 of 64 for this run).
  CHECK(finite.concurrency == doctest::Approx(run.concurrency));
  CHECK(finite.concurrency < 64);
  CHECK(finite.concurrency > 60);
  const auto flat = finite_closed_loop(std::vector<double>(64, steady.ttft_s), steady.ttft_s, 799 * steady.tpot_s,
                                       799 * role.decode.seconds, 500);
  CHECK(run.makespan_s > flat.makespan_s);
  CHECK(finite.tpot_s == doctest::Approx(steady.tpot_s));
}

TEST_CASE("serve::queued_first_wave: first sends beyond the engine's batch wait for running ones to finish") {
  // Two admitted (first tokens at 1 s and 2 s), three queued, 10 s from first token to last,
  // 0.5 s TTFT once admitted: the third queued one waits for the first queued one to finish.
  const auto ttfts = queued_first_wave({1.0, 2.0}, 3, 10.0, 0.5);
  REQUIRE(ttfts.size() == 5);
  CHECK(ttfts[0] == 1.0);
  CHECK(ttfts[1] == 2.0);
  CHECK(ttfts[2] == doctest::Approx(11.5));
  CHECK(ttfts[3] == doctest::Approx(12.5));
  CHECK(ttfts[4] == doctest::Approx(22.0));
  CHECK(queued_first_wave({1.0, 2.0}, 0, 10.0, 0.5).size() == 2);
}

TEST_CASE("serve::aggregated_performance: a finite run beyond the KV pool's batch prefills only what runs") {
  // NIM's Llama-3.3-70B FP8 on 2 H100s (TensorRT-LLM), 5,000/500 tokens, 100 sent at once and
  // 100 in all: the engine runs its pool's batch, the others wait for those to finish.
  const test::NimLlama70b nim;
  const auto& context = nim.context;
  auto workload = test::NimLlama70b::at(100);
  auto role = nim.role_for(workload);
  const auto steady = aggregated_performance(context, role, workload);
  const double running = static_cast<double>(role.max_concurrency);
  REQUIRE(running < 100);
  workload.num_prompts = 100;
  const auto finite = aggregated_performance(context, role, workload);
  const auto step = step_context(context, role.plan.shape);
  const FirstWave wave{running, 1, 5000, static_cast<double>(k_chunk_tokens), role.decode.seconds,
                       [&](double tokens) { return prefill_step(step, tokens, 5000).seconds; }};
  const auto admitted = first_wave_ttfts(wave);
  const double decode_s = 499 * steady.tpot_s;
  const auto first = queued_first_wave(admitted, 100 - running, decode_s, steady.ttft_s - steady.kv_wait_s);
  const auto run = finite_closed_loop(first, steady.ttft_s, decode_s, 499 * role.decode.seconds, 100);
  CHECK(finite.ttft_s == doctest::Approx(run.mean_ttft_s));
  CHECK(finite.request_rate == doctest::Approx(100 / run.makespan_s));
  // The waiting ones' first token comes after a whole request of the admitted ones.
  CHECK(first.back() > decode_s);
}

TEST_CASE("serve::aggregated_performance: the closed loop's request rate is its fixed point, near prefill saturation too") {
  // GPUStack's vLLM run: DeepSeek-R1 TP 8 on 8 x H200, 2,000-token prompts, 100 out, as many in
  // flight as the KV pool runs. Prefill is busy most of the time, so a faster rate stretches the
  // decode steps sharply: damped iteration alternated between 8.0 and 14.8 requests/s here.
  const DeepSeekOnH200 deployment{Engine::vllm};
  const auto& context = deployment.context;
  Workload workload{.isl = 2000, .osl = 100, .concurrency = 1};
  auto role = cost_role(context, {InstanceShape{8, 1, 1, 1, 8}, 1}, workload, 8192);
  REQUIRE(role.max_concurrency > 100);
  workload.concurrency = static_cast<double>(role.max_concurrency);
  const auto performance = aggregated_performance(context, role, workload);
  REQUIRE(performance.kv_waiting == 0);
  // Little's law: the requests in flight are the rate times each one's time in the system.
  const double latency = performance.ttft_s + 99.0 * performance.tpot_s;
  CHECK(performance.request_rate * latency == doctest::Approx(workload.concurrency).epsilon(1e-6));
  MESSAGE("rate ", performance.request_rate, " requests/s at ", workload.concurrency, " in flight; TTFT ",
          performance.ttft_s, " s, TPOT ", performance.tpot_s, " s");
}

TEST_CASE("serve::aggregated_performance: a prompt longer than the budget is prefilled a budget at a time") {
  // One 32,768-token prompt at a time through 8,192-token chunks: four chunk-sized steps, not four
  // steps of the whole prompt. The single request's TTFT is its prompt's chunks and one decode step.
  const auto model = model::load_model("llama-3.1-8b");
  const auto device = test::serve_device_on("h100-sxm");
  const RoleContext context{&model, &device, &find_engine_version(Engine::sglang, ""), WeightPrecision::bf16,
                            KvPrecision::bf16};
  Workload workload{.isl = 32768, .osl = 2, .concurrency = 1};
  auto chunked = cost_role(context, {InstanceShape{1, 1, 1, 1, 1}, 1}, workload, 8192);
  auto whole = cost_role(context, {InstanceShape{1, 1, 1, 1, 1}, 1}, workload, 32768);
  const auto in_chunks = aggregated_performance(context, chunked, workload);
  const auto at_once = aggregated_performance(context, whole, workload);
  // Four 8K chunks cost about what one 32K step does (the attention over the prompt is charged
  // per step in both), never four times it.
  CHECK(in_chunks.ttft_s < 1.5 * at_once.ttft_s);
  CHECK(in_chunks.ttft_s > 0.5 * at_once.ttft_s);
  MESSAGE("TTFT in 8K chunks ", in_chunks.ttft_s, " s, in one step ", at_once.ttft_s, " s");
}
