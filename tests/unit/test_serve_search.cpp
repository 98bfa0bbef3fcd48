// serve: the --layout syntax, the step-time model's monotonicity, the search's ranking, Pareto
// front, SLOs, rejections, P/D sizing, attention-DP prefill stalls, and the default job on the
// mixed example deployment.
#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/serve/device.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/performance.hpp>
#include <brix/serve/serve_run.hpp>
#include <brix/serve/step_time.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>
#include <support/serve_device.hpp>
#include <support/served_model.hpp>

#include <cmath>
#include <set>
#include <string>

using namespace brix;
using namespace brix::serve;

namespace {

ServeRequest request_on(int nodes, const std::string& gpu) {
  ServeRequest request;
  request.cluster.nodes = nodes;
  request.cluster.gpu = gpu;
  request.top = 50;
  return request;
}

ServeRequest workload_on(int nodes, const std::string& gpu, std::int64_t isl, std::int64_t osl) {
  auto request = request_on(nodes, gpu);
  request.isl = isl;
  request.osl = osl;
  return request;
}

} // namespace

TEST_CASE("serve::parse_layout_query") {
  const auto aggregated = parse_layout_query("tp=8,dp=2,ep=16,instances=2,kv=fp8,weights=fp4,mtp=3,overlap=1");
  CHECK(aggregated.mode == Mode::aggregated);
  CHECK(*aggregated.both.tp == 8);
  CHECK(*aggregated.both.dp == 2);
  CHECK(*aggregated.both.ep == 16);
  CHECK(*aggregated.both.instances == 2);
  CHECK(*aggregated.kv == KvPrecision::fp8);
  CHECK(*aggregated.weights == WeightPrecision::fp4);
  CHECK(*aggregated.mtp == 3);
  CHECK(*aggregated.overlap);
  const auto split = parse_layout_query("p.tp=8,p.ep=8,p.instances=2,d.dp=16,d.ep=16,d.instances=1");
  CHECK(split.mode == Mode::disaggregated);
  CHECK(*split.prefill.instances == 2);
  CHECK(*split.decode.dp == 16);
  CHECK(split.both.empty());
  CHECK_FALSE(parse_layout_query("kv=fp8").mode.has_value());
  CHECK_THROWS_WITH_AS((void)parse_layout_query("tpp=8"), doctest::Contains("did you mean 'tp'"), InputError);
  CHECK_THROWS_WITH_AS((void)parse_layout_query("tp=8,d.tp=8"), doctest::Contains("mixes aggregated fields"), InputError);
  CHECK_THROWS_WITH_AS((void)parse_layout_query("tp=0"), doctest::Contains("tp=0 is not valid"), InputError);
  CHECK_THROWS_WITH_AS((void)parse_layout_query("weights=int4"), doctest::Contains("expected one of bf16, fp8, fp4"), InputError);
  ServeLayout layout;
  layout.mode = Mode::disaggregated;
  layout.prefill = {{8, 1, 1, 8, 1}, 2};
  layout.decode = {{1, 1, 16, 16, 1}, 1};
  const auto text = to_string(layout);
  CHECK(text == "p.tp=8,p.pp=1,p.dp=1,p.ep=8,p.etp=1,p.instances=2,d.tp=1,d.pp=1,d.dp=16,d.ep=16,d.etp=1,d.instances=1,"
                "weights=bf16,kv=bf16,mtp=0,overlap=0");
  const auto again = parse_layout_query(text);
  CHECK(matches(again.prefill, layout.prefill.shape, 2));
  CHECK(matches(again.decode, layout.decode.shape, 1));
  // Weight offloading: printed only where set, read back; one layer in 1 would offload them all.
  CHECK_FALSE(again.offload.has_value());
  layout.offload = 4;
  CHECK(to_string(layout).ends_with(",overlap=0,offload=4"));
  CHECK(*parse_layout_query(to_string(layout)).offload == 4);
  CHECK_THROWS_WITH_AS((void)parse_layout_query("offload=1"), doctest::Contains("offload=1 is not valid (expected an integer >= 2)"),
                       InputError);
}

TEST_CASE("serve::decode_step and prefill_step follow the physics") {
  const auto model = model::load_model("deepseek-r1");
  const auto device = test::serve_device_on("h200-sxm", 2);
  const StepContext context{&model, &device, {8, 1, 1, 8, 1}, WeightPrecision::fp8, KvPrecision::bf16, false};
  // Decode: more sequences or longer contexts never make a step shorter; a larger batch gives more
  // tokens per second (weights are read once per step).
  const double one = decode_step(context, 1, 2048, 0).seconds;
  const double sixteen = decode_step(context, 16, 2048, 0).seconds;
  CHECK(sixteen >= one);
  CHECK(16 / sixteen > 1 / one);
  CHECK(decode_step(context, 16, 8192, 0).seconds > sixteen);
  const auto cost = decode_step(context, 16, 2048, 0);
  CHECK(cost.weights_s + cost.kv_s + cost.gemm_s + cost.attention_s + cost.collectives_s + cost.floors_s ==
        doctest::Approx(cost.seconds));
  // Prefill: attention is quadratic in the prompt, so a chunk of long prompts takes longer.
  CHECK(prefill_step(context, 8192, 8192).seconds > prefill_step(context, 8192, 1024).seconds);
  // MTP: 1 + a + a² + a³ tokens per step; its inverse recovers the acceptance.
  CHECK(tokens_per_step(3, 0.5) == doctest::Approx(1.875));
  CHECK(acceptance_for_length(3, 2.82) == doctest::Approx(0.7701).epsilon(0.001));
  CHECK(decode_step(context, 16, 2048, 3).seconds > sixteen);
}

TEST_CASE("serve search: ranking, Pareto front and rejections") {
  auto request = request_on(2, "h100-sxm");
  const auto report = run_serve(request);
  REQUIRE(report.groups.size() == 1);
  const auto& result = report.groups.front().result;
  REQUIRE_FALSE(result.plans.empty());
  CHECK(report.default_workload);
  CHECK(report.workload.concurrency == k_default_concurrency);
  // Ranked by output tokens/s per GPU; every plan within the 16 GPUs.
  for (std::size_t i = 0; i < result.plans.size(); ++i) {
    CHECK(result.plans[i].layout.gpus() <= 16);
    CHECK(result.plans[i].meets_slo); // no SLO: every stable plan counts
    if (i > 0) {
      CHECK(result.plans[i - 1].output_tokens_per_s_per_gpu >= result.plans[i].output_tokens_per_s_per_gpu);
    }
  }
  // DeepSeek-R1's FP8 weights (~671 GB) do not fit one 8 × 80 GB node.
  bool weights_rejected = false;
  for (const auto& group : result.rejected) {
    weights_rejected = weights_rejected || group.rule == "weights do not fit";
  }
  CHECK(weights_rejected);
  for (const auto& plan : result.plans) {
    CHECK(plan.layout.gpus() == 16);
    CHECK(plan.layout.weights == WeightPrecision::fp8); // the checkpoint's, H100 has FP8
  }
  // The Pareto front: no member dominated by another, sorted by tokens/s per user.
  const auto& front = result.pareto;
  REQUIRE_FALSE(front.empty());
  for (std::size_t i = 0; i < front.size(); ++i) {
    for (std::size_t j = 0; j < front.size(); ++j) {
      if (i != j) {
        const bool dominated = front[j].output_tokens_per_s_per_gpu >= front[i].output_tokens_per_s_per_gpu &&
                               front[j].performance.tokens_per_s_per_user > front[i].performance.tokens_per_s_per_user;
        CHECK_FALSE(dominated);
      }
    }
    if (i > 0) {
      CHECK(front[i - 1].performance.tokens_per_s_per_user >= front[i].performance.tokens_per_s_per_user);
    }
  }
}

TEST_CASE("serve search: SLOs rank the plans that meet them first") {
  auto request = request_on(4, "h200-sxm");
  request.tpot_ms = 1000.0; // every plan meets it
  const auto easy = run_serve(request);
  CHECK(easy.groups.front().result.meeting_slo == easy.groups.front().result.evaluated);
  request.tpot_ms = 0.001; // none does
  const auto impossible = run_serve(request);
  CHECK(impossible.groups.front().result.meeting_slo == 0);
  CHECK_FALSE(impossible.groups.front().result.plans.empty()); // still ranked, marked as missing it
  CHECK_FALSE(impossible.groups.front().result.plans.front().meets_slo);
}

TEST_CASE("serve search: open loop at a request rate") {
  auto request = workload_on(2, "h200-sxm", 1000, 500);
  request.request_rate = 2.0;
  const auto report = run_serve(request);
  const auto& plans = report.groups.front().result.plans;
  REQUIRE_FALSE(plans.empty());
  for (const auto& plan : plans) {
    if (plan.performance.stable) {
      // What arrives leaves: output tokens/s = rate × OSL.
      CHECK(plan.performance.output_tokens_per_s == doctest::Approx(2.0 * 500));
    }
  }
  request.request_rate = 1e6; // far beyond any prefill
  const auto overloaded = run_serve(request);
  for (const auto& plan : overloaded.groups.front().result.plans) {
    CHECK_FALSE(plan.performance.stable);
    CHECK_FALSE(plan.meets_slo);
  }
}

TEST_CASE("serve search: a closed loop finishes prompts no faster than prefill runs them back to back") {
  auto request = workload_on(1, "h200-sxm", 128, 4);
  request.layout = "tp=8";
  request.concurrency = 1000;
  // 1,000 requests of 132 tokens: the loop is prefill-bound, at the prefill's own rate at most.
  const auto plans = run_serve(request).groups.front().result.plans;
  REQUIRE_FALSE(plans.empty());
  for (const auto& plan : plans) {
    const double prompts_per_s = plan.both.prefill_tokens_per_s * plan.layout.both.instances / 128.0;
    CHECK(plan.performance.request_rate <= prompts_per_s * 1.0001);
  }
}

TEST_CASE("serve search: disaggregated plans size prefill to decode") {
  auto request = request_on(4, "h200-sxm");
  request.engine = "sglang";
  request.layout = "d.tp=1,d.dp=8,d.ep=8";
  request.concurrency = 512;
  const auto report = run_serve(request);
  const auto& plans = report.groups.front().result.plans;
  REQUIRE_FALSE(plans.empty());
  for (const auto& plan : plans) {
    CHECK(plan.layout.mode == Mode::disaggregated);
    CHECK(plan.layout.decode.shape == InstanceShape{1, 1, 8, 8, 1});
    CHECK(plan.layout.gpus() <= 32);
    // Prefill keeps up with what decode completes.
    const double capacity = plan.prefill.prefill_tokens_per_s * plan.layout.prefill.instances / report.workload.isl;
    CHECK(capacity >= plan.performance.request_rate * 0.97);
    CHECK(plan.performance.kv_transfer_s > 0);
  }
}

namespace {

/// gpt-oss-120b on one 8 x H200 node with SGLang and TP 2 prefill and decode servers, as dstack's
/// P/D runs: the roles costed and the closed loop's operating point.
struct GptOssPd : test::ServedModel {
  RoleEstimate prefill;
  RoleEstimate decode;
  GptOssPd() : ServedModel("gpt-oss-120b", "h200-sxm", Engine::sglang, WeightPrecision::fp4) {}

  Performance run(const Workload& workload, int prefill_instances, int decode_instances) {
    Workload prompts = workload;
    prompts.osl = 1;
    prefill = cost_role(context, {tp2, prefill_instances}, prompts, k_prefill_chunk_tokens);
    decode = cost_role(context, {tp2, decode_instances}, workload, k_chunk_tokens);
    return disaggregated_performance(context, prefill, decode, workload);
  }
  static constexpr InstanceShape tp2{2, 1, 1, 1, 2};
};

Workload closed_loop(std::int64_t isl, std::int64_t osl, double concurrency) {
  return {.isl = isl, .osl = osl, .concurrency = concurrency};
}

} // namespace

TEST_CASE("serve::disaggregated_performance: a prefill-bound loop decodes only the requests past prefill") {
  // dstack's 1p3d shape: one prefill server feeding three decode servers.
  GptOssPd pd;
  const auto performance = pd.run(closed_loop(32768, 1024, 128), 1, 3);
  REQUIRE(performance.limit == Limit::prefill);
  // Little's law on the decode stage: rate x (OSL - 1) x TPOT requests decode, a few of the 128
  // in flight; the rest wait in front of the one prefill server, and the step is costed at that batch.
  const double decoding = performance.request_rate * 1023.0 * performance.tpot_s;
  CHECK(pd.decode.batch * 3 == doctest::Approx(decoding).epsilon(0.05));
  CHECK(decoding < 0.25 * 128);
  CHECK(performance.tpot_s == doctest::Approx(pd.decode.decode.seconds));
}

TEST_CASE("serve::disaggregated_performance: the first token leaves with the decode instance's first step") {
  GptOssPd pd;
  const auto performance = pd.run(closed_loop(2048, 512, 1), 1, 1);
  // One request in flight: its prompt alone, no queue to speak of, the KV transfer, one decode step.
  const double prompt = prefill_step(step_context(pd.context, GptOssPd::tp2), 2048, 2048).seconds;
  CHECK(performance.ttft_s ==
        doctest::Approx(prompt + performance.queue_s + performance.kv_transfer_s + performance.tpot_s));
}

TEST_CASE("serve::disaggregated_performance: a finite run's first wave queues at the prefill servers") {
  // dstack's 1p1d 2K/2K run at 128 in flight, 500 prompts: 128 prompts reach the one prefill
  // server at t = 0, 2,048 tokens each, in 16,384-token chunks.
  GptOssPd pd;
  auto workload = closed_loop(2048, 2048, 128);
  const auto steady = pd.run(workload, 1, 1);
  workload.num_prompts = 500;
  const auto finite = pd.run(workload, 1, 1);
  const double chunk = prefill_step(step_context(pd.context, GptOssPd::tp2), 16384, 2048).seconds;
  // 16 chunks for the wave; the k-th prompt is done after ceil(k / 8) of them, on average 8.5:
  // 128 of 500 requests wait 7.5 chunks more than alone (steady TTFT is about one chunk).
  MESSAGE("steady TTFT ", steady.ttft_s, " s, finite ", finite.ttft_s, " s, chunk ", chunk, " s");
  CHECK(finite.ttft_s == doctest::Approx(steady.ttft_s + 128.0 / 500.0 * 7.5 * chunk).epsilon(0.1));
  CHECK(finite.output_tokens_per_s < steady.output_tokens_per_s);
}

TEST_CASE("serve::aggregated_performance: a prefill on any attention-DP rank stretches every rank's step") {
  // TensorRT-LLM's H200 max-throughput run: DeepSeek-R1 FP8, attention DP 8 + EP 8, 128 per rank,
  // 1,024-token prompts, one prompt per rank per step (--max_num_tokens 1151).
  const auto model = model::load_model("deepseek-r1");
  const auto device = test::serve_device_on("h200-sxm");
  const RoleContext context{&model, &device, &find_engine_version(Engine::trtllm, ""), WeightPrecision::fp8,
                            KvPrecision::bf16};
  const Workload workload{.isl = 1024, .osl = 2048, .concurrency = 1024};
  auto role = cost_role(context, {InstanceShape{1, 1, 8, 8, 1}, 1}, workload, 1151);
  const auto performance = aggregated_performance(context, role, workload);
  // Each rank prefills `busy` of the time on its own; a step waits for whichever rank does.
  const double busy = performance.request_rate * 1024.0 / role.prefill_tokens_per_s;
  const double stretched = 1.0 - std::pow(1.0 - busy, 8.0);
  REQUIRE(busy > 0.01);
  CHECK(performance.tpot_s == doctest::Approx(role.decode.seconds / (1.0 - stretched)).epsilon(0.01));
  CHECK(performance.tpot_s > 1.5 * role.decode.seconds / (1.0 - busy));
}

TEST_CASE("serve run: bad input is one located error") {
  auto request = request_on(2, "h100-sxm");
  request.layout = "tp=3";
  CHECK_THROWS_WITH_AS(run_serve(request), doctest::Contains("does not divide deepseek-r1's 128 attention heads"), InputError);
  request.layout = "tp=4,dp=3,ep=12";
  CHECK_THROWS_WITH_AS(run_serve(request), doctest::Contains("a 12-GPU instance (tp 4 × dp 3 × pp 1) is neither a divisor"),
                       InputError);
  request.layout = "tp=8,dp=3,ep=24";
  CHECK_THROWS_WITH_AS(run_serve(request), doctest::Contains("needs more than the group's 16 GPUs"), InputError);
  request.layout = "";
  request.engine = "tgi";
  CHECK_THROWS_WITH_AS(run_serve(request), doctest::Contains("--engine: unknown engine 'tgi'"), InputError);
  request.engine = "vllm";
  request.engine_version = "0.1";
  CHECK_THROWS_WITH_AS(run_serve(request), doctest::Contains("expected 0.9 or 0.11"), InputError);
  request.engine_version = "";
  request.precision = "fp4";
  CHECK_THROWS_WITH_AS(run_serve(request), doctest::Contains("needs FP4 tensor cores"), InputError);
  request.precision = "";
  request.layout = "mtp=2";
  request.model = "llama-3.1-70b";
  CHECK_THROWS_WITH_AS(run_serve(request), doctest::Contains("llama-3.1-70b has none"), InputError);
  request = request_on(1, "h100-sxm");
  request.concurrency = 4;
  request.request_rate = 1;
  CHECK_THROWS_WITH_AS(run_serve(request), doctest::Contains("give one"), InputError);
}

TEST_CASE("serve run: an MXFP4 checkpoint on Hopper plans weight-only FP4 where the engine runs it") {
  auto request = request_on(1, "h100-sxm");
  request.model = "gpt-oss-120b";
  for (const std::string engine : {"vllm", "sglang"}) {
    CAPTURE(engine);
    request.engine = engine;
    const auto report = run_serve(request);
    REQUIRE(report.groups.size() == 1);
    CHECK(report.groups[0].weights == WeightPrecision::fp4);
    CHECK(report.groups[0].weights_reason.find("MXFP4; weight-only on H100") != std::string::npos);
    REQUIRE_FALSE(ranked_plans(report).empty());
    CHECK(ranked_plans(report).front().plan->layout.weights == WeightPrecision::fp4);
  }
  SUBCASE("an engine without weight-only MXFP4 is refused, naming the ones that have it") {
    request.engine = "trtllm";
    CHECK_THROWS_WITH_AS(run_serve(request),
                         doctest::Contains("trtllm 1.0 does not run gpt-oss-120b's MXFP4 checkpoint on H100"), InputError);
    request.engine = "vllm";
    request.engine_version = "0.9";
    request.precision = "fp4";
    CHECK_THROWS_WITH_AS(run_serve(request), doctest::Contains("--engine vllm --engine-version 0.11 or --engine sglang"),
                         InputError);
  }
  SUBCASE("an NVFP4 checkpoint still needs FP4 tensor cores") {
    request.model = "deepseek-r1";
    request.precision = "fp4";
    CHECK_THROWS_WITH_AS(run_serve(request), doctest::Contains("deepseek-r1's checkpoint is not MXFP4"), InputError);
    request = request_on(1, "b200");
    request.precision = "fp4";
    CHECK(run_serve(request).groups[0].weights == WeightPrecision::fp4);
  }
}

TEST_CASE("serve run: the default job plans DeepSeek-R1 on the mixed example deployment, per node group") {
  ServeRequest request;
  const auto report = run_serve(request);
  CHECK(report.model.name == "deepseek-r1");
  CHECK(report.cluster.name == "example-deployment");
  REQUIRE(report.groups.size() == 2);
  CHECK(report.groups[0].group.name == "dgx-h100");
  CHECK(report.groups[0].weights == WeightPrecision::fp8);
  CHECK(report.groups[1].group.name == "a100-edr");
  CHECK(report.groups[1].weights == WeightPrecision::bf16); // A100 has no FP8 tensor cores
  CHECK(report.groups[1].weights_reason.find("no FP8 tensor cores") != std::string::npos);
  REQUIRE_FALSE(report.notes.empty());
  CHECK(report.notes.front().find("mixed cluster") != std::string::npos);
  CHECK(exit_code(report) == 0);
  CHECK_FALSE(ranked_plans(report).empty());
}

TEST_CASE("serve search: no plan is listed twice") {
  ServeRequest request;
  request.cluster.nodes = 4;
  request.cluster.gpu = "h200-sxm";
  request.engine = "sglang";
  request.layout = "p.tp=8,p.ep=8,d.dp=16,d.ep=16";
  request.top = 10;
  const auto report = run_serve(request);
  std::set<std::string> seen;
  for (const auto& group : report.groups) {
    for (const auto& plan : group.result.plans) {
      CHECK_MESSAGE(seen.insert(to_string(plan.layout)).second, "listed twice: " << to_string(plan.layout));
    }
  }
  CHECK(seen.size() >= 2);
}

TEST_CASE("serve::aggregated_performance: vLLM's budget holds the decode tokens, so a chunk-long prompt takes two steps") {
  // aiconfigurator's gpt-oss-120b H200 run: TP 8, 8,192-token prompts, 16 in flight, vLLM's
  // 8,192-token budget. Running requests are scheduled first: the 15 decoding beside a prompt
  // leave it 8,177 tokens, and its last 15 go in a second step.
  const auto model = model::load_model("gpt-oss-120b");
  const auto device = test::serve_device_on("h200-sxm");
  const auto& vllm = find_engine_version(Engine::vllm, "0.11");
  REQUIRE(vllm.decode_in_chunk);
  auto separate = vllm;
  separate.decode_in_chunk = false;
  const RoleContext shared_budget{&model, &device, &vllm, WeightPrecision::fp4, KvPrecision::bf16};
  const RoleContext own_budget{&model, &device, &separate, WeightPrecision::fp4, KvPrecision::bf16};
  const Workload workload{.isl = 8192, .osl = 1024, .concurrency = 16};
  const RolePlan plan{InstanceShape{8, 1, 1, 1, 8}, 1};
  auto role = cost_role(shared_budget, plan, workload, 8192);
  auto own_role = cost_role(own_budget, plan, workload, 8192);
  const double two_steps = aggregated_performance(shared_budget, role, workload).ttft_s;
  const double one_step = aggregated_performance(own_budget, own_role, workload).ttft_s;
  const auto step = step_context(shared_budget, plan.shape);
  CHECK(two_steps - one_step == doctest::Approx(prefill_step(step, 15, 8192).seconds).epsilon(1e-9));
  // 1,024-token prompts fit the budget left beside the decoders: one step either way.
  const Workload short_prompts{.isl = 1024, .osl = 1024, .concurrency = 16};
  auto short_role = cost_role(shared_budget, plan, short_prompts, 8192);
  auto short_own = cost_role(own_budget, plan, short_prompts, 8192);
  CHECK(aggregated_performance(shared_budget, short_role, short_prompts).ttft_s ==
        doctest::Approx(aggregated_performance(own_budget, short_own, short_prompts).ttft_s));
}
