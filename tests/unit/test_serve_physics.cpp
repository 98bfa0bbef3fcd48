// serve: the kernel and scheduling figures the serving cost model takes from public
// microbenchmarks (DeepGEMM's reduction-length table, FlashMLA's decode rates) and the kernels
// whose traffic no GEMM hides; the host work early engines ran between steps.
#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/layer_cost.hpp>
#include <brix/plan/physics.hpp>
#include <brix/serve/device.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/memory.hpp>
#include <brix/serve/performance.hpp>
#include <brix/serve/step_time.hpp>

#include <doctest/doctest.h>
#include <support/serve_device.hpp>

#include <optional>
#include <string>

using namespace brix;
using namespace brix::serve;

namespace {

ServeDevice device_of(const std::string& gpu) { return test::serve_device_on(gpu); }

/// `context` with every step replaying a graph, whatever its size.
StepContext without_graph_limit(StepContext context) {
  context.cuda_graph_max_tokens = 0;
  return context;
}

} // namespace

TEST_CASE("serve::prefill_step: block-scaled GEMMs pay for a short reduction") {
  const auto model = model::load_model("deepseek-r1");
  const auto device = device_of("h200-sxm");
  // Experts split over 8 GPUs by tensor parallelism: each down-projection reduces over 256.
  const InstanceShape shape{1, 1, 8, 1, 8};
  const StepContext fp8{&model, &device, shape, WeightPrecision::fp8, KvPrecision::bf16, false};
  const StepContext bf16{&model, &device, shape, WeightPrecision::bf16, KvPrecision::bf16, false};
  const auto fast = prefill_step(fp8, 8192, 2048);
  const auto slow = prefill_step(bf16, 8192, 2048);
  // FP8 has twice bf16's peak, but at K = 256 a block-scaled GEMM reaches 256 / 956 of its
  // long-K rate (DeepGEMM: 590 of ~1,300 TFLOPS already at K = 512), and 0.85 of that in a
  // whole step: the FP8 GEMMs take about as long as bf16's.
  CHECK(fast.gemm_s > 0.7 * slow.gemm_s);
  CHECK(fast.gemm_s < 1.3 * slow.gemm_s);
}

TEST_CASE("serve::prefill_step: FP8 and FP4 GEMMs keep the training planner's FP8 share of the GEMM fraction") {
  const auto model = model::load_model("deepseek-r1");
  for (const std::string gpu : {"h200-sxm", "b200"}) {
    CAPTURE(gpu);
    const auto device = device_of(gpu);
    const auto cluster = cluster::shorthand_cluster(1, 8, gpu, std::nullopt, std::nullopt);
    // One function for both planners: Hopper 0.85, Blackwell 0.75.
    CHECK(device.low_precision_gemm_share == plan::fp8_gemm_share(cluster.groups.front().gpu));
    auto kernel_only = device;
    kernel_only.low_precision_gemm_share = 1.0;
    for (const auto weights : {WeightPrecision::fp8, WeightPrecision::fp4}) {
      // Experts whole on 8 GPUs (EP 8): every GEMM stays compute-bound with and without the share,
      // so gemm_s compares like with like (under MoE TP 8 B200's FP4 down-projections reduce over
      // 256 only, and without the share their weights' read, not their arithmetic, bounds them).
      const StepContext step{&model, &device, {8, 1, 1, 8, 1}, weights, KvPrecision::bf16, false};
      StepContext isolated = step;
      isolated.device = &kernel_only;
      const auto whole = prefill_step(step, 16384, 3200);
      const auto kernel = prefill_step(isolated, 16384, 3200);
      REQUIRE(kernel.gemm_s > 0);
      if (compute_precision(weights, device) == ComputePrecision::bf16) {
        // FP4 experts weight-only on Hopper: bf16 MMAs at the bf16 fraction, no share; only the
        // checkpoint's FP8 attention projections slow.
        CHECK(whole.gemm_s > kernel.gemm_s);
        CHECK(whole.gemm_s < kernel.gemm_s / device.low_precision_gemm_share * 0.9);
        continue;
      }
      // Every FP8/FP4 GEMM slows by 1 / share; the bf16 ones (router, LM head) do not.
      CHECK(whole.gemm_s > kernel.gemm_s / device.low_precision_gemm_share * 0.97);
      CHECK(whole.gemm_s <= kernel.gemm_s / device.low_precision_gemm_share * 1.0001);
    }
  }
}

TEST_CASE("serve::decode_step: MLA decode attention at FlashMLA's measured rates") {
  const auto model = model::load_model("deepseek-r1");
  const auto h200 = device_of("h200-sxm");
  const auto b200 = device_of("b200");
  const InstanceShape shape{1, 1, 8, 8, 1};
  // 512 sequences of 4,096 tokens per rank: the absorbed attention is compute-bound.
  const StepContext bf16_kv{&model, &h200, shape, WeightPrecision::fp8, KvPrecision::bf16, false};
  const StepContext fp8_kv{&model, &h200, shape, WeightPrecision::fp8, KvPrecision::fp8, false};
  const auto plain = decode_step(bf16_kv, 512, 4096, 0);
  const auto quantized = decode_step(fp8_kv, 512, 4096, 0);
  REQUIRE(plain.attention_s > 0);
  // Half the bytes, but every key is dequantized before the bf16 MMA (410 of 660 TFLOPS).
  CHECK(quantized.attention_s == doctest::Approx(plain.attention_s * 660.0 / 410.0).epsilon(0.02));
  // B200 has 2.3x H200's bf16 peak, yet its MLA decode kernels reach a smaller share of it
  // (350 of 2,250 TFLOPS against 410 of 989): the same attention takes longer there.
  const StepContext blackwell{&model, &b200, shape, WeightPrecision::fp8, KvPrecision::fp8, false};
  CHECK(decode_step(blackwell, 512, 4096, 0).attention_s > quantized.attention_s);
  // An engine whose FP8 attention multiplies in FP8 on Blackwell (SGLang, LMSYS GB200 Part II):
  // twice the bf16 kernel's rate, where the dequantizing kernel is 410 / 660 of it.
  const StepContext blackwell_bf16{&model, &b200, shape, WeightPrecision::fp8, KvPrecision::bf16, false};
  StepContext blackwell_mma = blackwell;
  blackwell_mma.fp8_mla_mma = true;
  const double bf16_s = decode_step(blackwell_bf16, 512, 4096, 0).attention_s;
  CHECK(decode_step(blackwell_mma, 512, 4096, 0).attention_s == doctest::Approx(bf16_s / 2.0).epsilon(0.02));
  CHECK(decode_step(blackwell, 512, 4096, 0).attention_s == doctest::Approx(bf16_s * 660.0 / 410.0).epsilon(0.02));
  // TensorRT-LLM from 1.0 is such an engine ("In the generation phase, both Q and KV are
  // quantized to FP8, and FP8 Multi-Query Attention (MQA) is used", its tech blog 3); 0.17 is not
  // in brix's sources.
  CHECK(find_engine_version(Engine::trtllm, "1.0").fp8_mla_mma);
  CHECK(find_engine_version(Engine::trtllm, "1.3").fp8_mla_mma);
  CHECK_FALSE(find_engine_version_to_cost(Engine::trtllm, "0.17").fp8_mla_mma);
  // Hopper has no such kernel in brix's sources (FlashMLA dequantizes): the flag changes nothing.
  StepContext hopper_mma = fp8_kv;
  hopper_mma.fp8_mla_mma = true;
  CHECK(decode_step(hopper_mma, 512, 4096, 0).attention_s == doctest::Approx(quantized.attention_s));
}

TEST_CASE("serve::prefill_step: the gated activation and the top-k sum are kernels of their own") {
  const auto model = model::load_model("deepseek-r1");
  const auto device = device_of("h200-sxm");
  const StepContext context{&model, &device, {1, 1, 8, 8, 1}, WeightPrecision::fp8, KvPrecision::bf16, false};
  const double tokens = 16384;
  const auto cost = prefill_step(context, tokens, 2048);
  // Per MoE layer and GPU at least the mean share of the routed copies (tokens × 8 ranks × top-8
  // over EP 8) is read as gate and up (bf16), written as their FP8 product, permuted (FP8 read
  // and write) and summed back (bf16 read and write); the compute-bound GEMMs hide none of it.
  const double copies = tokens * 8 * 8 / 8;
  const double bytes_per_copy = 2048.0 * (2 * 2 + 1) + 7168.0 * (2 * 2 + 2 * 1);
  const double moe_layers = 58;
  CHECK(cost.weights_s >= moe_layers * copies * bytes_per_copy / device.hbm_bytes_per_s);
}

TEST_CASE("serve::decode_step: without CUDA graphs the host launching kernels bounds the step") {
  // The figure the eager launch cost is taken from: SGLang PR #1401 ran Llama-3-8B decode at
  // batch 1 in 7.35 ms per step with CUDA graphs and 8.23 ms without (GPU not stated; costed
  // here on H100, where brix's graph replay comes out at 7.75 ms).
  const auto llama = model::load_model("llama-3.1-8b");
  const auto h100 = device_of("h100-sxm");
  const StepContext graphs{&llama, &h100, {1, 1, 1, 1, 1}, WeightPrecision::bf16, KvPrecision::bf16, false};
  StepContext eager = graphs;
  eager.cuda_graphs = false;
  const auto replayed = decode_step(graphs, 1, 136, 0);
  const auto launched = decode_step(eager, 1, 136, 0);
  MESSAGE("llama-3.1-8b batch-1 decode: ", replayed.kernels, " kernels, ", replayed.seconds * 1e3, " ms replayed, ",
          launched.seconds * 1e3, " ms launched");
  CHECK(launched.kernels == replayed.kernels);
  CHECK(launched.seconds == doctest::Approx(8.23e-3).epsilon(0.02));
  CHECK(replayed.seconds < launched.seconds);
  CHECK(launched.floors_s - replayed.floors_s == doctest::Approx(launched.seconds - replayed.seconds));
  // A step whose kernels run longer than their launches is not slowed: DeepSeek-R1 prefill.
  const auto deepseek = model::load_model("deepseek-r1");
  const auto h200 = device_of("h200-sxm");
  StepContext prefill{&deepseek, &h200, {8, 1, 1, 4, 2}, WeightPrecision::fp8, KvPrecision::bf16, false};
  const double replayed_prefill = prefill_step(prefill, 16384, 3200).seconds;
  prefill.cuda_graphs = false;
  CHECK(prefill_step(prefill, 16384, 3200).seconds == doctest::Approx(replayed_prefill));
}

TEST_CASE("serve::decode_step: a step above the engine's largest CUDA graph is launched from the host") {
  // vLLM 0.11 captures decode and mixed steps of up to min(2 x max_num_seqs, 512) tokens
  // (VllmConfig._set_cudagraph_sizes); larger steps run without a graph.
  CHECK(find_engine_version_to_cost(Engine::vllm, "0.11").cuda_graph_max_tokens == 512);
  // Llama-3.1-8B at TP 8 on B200: the GPU's share of a step is short, the launches are not.
  const auto llama = model::load_model("llama-3.1-8b");
  const auto b200 = device_of("b200");
  StepContext limited{&llama, &b200, {8, 1, 1, 1, 8}, WeightPrecision::bf16, KvPrecision::bf16, false};
  limited.cuda_graph_max_tokens = 512;
  const StepContext unlimited = without_graph_limit(limited);
  StepContext eager = unlimited;
  eager.cuda_graphs = false;
  // At the limit the graph is replayed: no host time.
  CHECK(decode_step(limited, 512, 1024, 0).seconds == doctest::Approx(decode_step(unlimited, 512, 1024, 0).seconds));
  // One token above it the step costs what an eager step costs: its kernels' launches.
  const auto replayed = decode_step(unlimited, 513, 1024, 0);
  const auto above = decode_step(limited, 513, 1024, 0);
  MESSAGE("llama-3.1-8b TP 8 B200 decode at 513: ", replayed.kernels, " kernels, ", replayed.seconds * 1e3,
          " ms replayed, ", above.seconds * 1e3, " ms launched");
  CHECK(above.seconds == doctest::Approx(decode_step(eager, 513, 1024, 0).seconds));
  CHECK(above.seconds == doctest::Approx(replayed.kernels * b200.eager_launch_s));
  CHECK(above.seconds > replayed.seconds);
  // Prefill chunks are steps of their tokens too: above the limit they launch from the host.
  CHECK(prefill_step(limited, 2048, 2048).seconds == doctest::Approx(prefill_step(eager, 2048, 2048).seconds));
  CHECK(prefill_step(limited, 256, 256).seconds == doctest::Approx(prefill_step(unlimited, 256, 256).seconds));
  // DeepSeek-R1 at TP 8 on H200 (GPUStack's vLLM 0.11 runs): at 1,000 running requests the
  // step's kernels run longer than the host takes to launch them, so the limit costs nothing.
  const auto deepseek = model::load_model("deepseek-r1");
  const auto h200 = device_of("h200-sxm");
  StepContext wide{&deepseek, &h200, {8, 1, 1, 1, 8}, WeightPrecision::fp8, KvPrecision::bf16, false};
  wide.cuda_graph_max_tokens = 512;
  const auto graphed = decode_step(without_graph_limit(wide), 1000, 130, 0);
  MESSAGE("deepseek-r1 TP 8 H200 decode at 1000: ", graphed.kernels, " kernels, ", graphed.seconds * 1e3,
          " ms on the GPU, ", graphed.kernels * h200.eager_launch_s * 1e3, " ms to launch");
  CHECK(graphed.kernels * h200.eager_launch_s < graphed.seconds);
  CHECK(decode_step(wide, 1000, 130, 0).seconds == doctest::Approx(graphed.seconds));
}

TEST_CASE("serve::prefill_step: early Triton block-FP8 GEMMs at SGLang PR #3893's rate") {
  const auto model = model::load_model("deepseek-r1");
  const auto device = device_of("h200-sxm");
  StepContext deepgemm{&model, &device, {8, 1, 1, 1, 8}, WeightPrecision::fp8, KvPrecision::bf16, false};
  StepContext triton = deepgemm;
  triton.triton_block_fp8 = true;
  const auto fast = prefill_step(deepgemm, 16384, 3200);
  const auto slow = prefill_step(triton, 16384, 3200);
  // The compute-bound FP8 GEMMs take 2.4x as long (the kernels' measured ratio at m = 2,048-4,096).
  REQUIRE(fast.gemm_s > 0);
  CHECK(slow.gemm_s >= 2.0 * fast.gemm_s);
  CHECK(slow.gemm_s <= 2.4 * fast.gemm_s * 1.001);
  // Decode is weight-streaming-bound either way: unchanged.
  CHECK(decode_step(triton, 16, 4000, 0).seconds == doctest::Approx(decode_step(deepgemm, 16, 4000, 0).seconds));
}

TEST_CASE("serve::decode_step: gpt-oss's sliding-window layers read only their window of the KV cache") {
  const auto model = model::load_model("gpt-oss-120b");
  REQUIRE(model.attention_window(0) == 128);
  REQUIRE(model.attention_window(1) == 0);
  const auto device = device_of("h200-sxm");
  const StepContext context{&model, &device, {8, 1, 1, 1, 8}, WeightPrecision::fp8, KvPrecision::bf16, false};
  // 256 sequences of 8,192 tokens: each of the 18 full-attention layers reads every cached token
  // (8 KV heads x 64 x K and V in bf16 = 2,048 B, one head per GPU: 256 B); each of the 18
  // windowed layers reads 128 of them, too little to leave its kernel's floor.
  const auto step = decode_step(context, 256, 8192, 0);
  CHECK(step.kv_s == doctest::Approx(18.0 * 256 * 8192 * 256 / device.hbm_bytes_per_s));
  // Prefill: a windowed layer's band holds w − w²/(2p) keys per query on average, a full one p/2
  // (at the head-dim-64 attention rate, 497/648 of the 0.6 the device's kernels reach at 128).
  const auto llama_like = prefill_step(context, 8192, 8192);
  CHECK(llama_like.attention_s <
        18.0 * 8192 * 8 * (8192 / 2.0 + 128) * 2 * 128 / (device.bf16_flops * 0.6 * 497.0 / 648.0) * 1.01);
}

TEST_CASE("serve::prefill_step: 64-wide attention heads run at FlashAttention-3's head-dim-64 rate") {
  // The same attention arithmetic in 64 heads of 64 and in 32 heads of 128: FlashAttention-3's
  // forward on H100 SXM5 reaches 497 and 648 TFLOP/s (Shah et al. 2024, Fig. 5, 16K tokens).
  auto narrow = model::load_model("gpt-oss-120b");
  REQUIRE(narrow.head_dim == 64);
  auto wide = narrow;
  wide.head_dim = 128;
  wide.heads = narrow.heads / 2;
  const auto device = device_of("h200-sxm");
  const auto attention_s = [&](const model::ModelSpec& model) {
    const StepContext context{&model, &device, {8, 1, 1, 1, 8}, WeightPrecision::fp8, KvPrecision::bf16, false};
    return prefill_step(context, 16384, 16384).attention_s;
  };
  REQUIRE(attention_s(wide) > 0);
  CHECK(attention_s(narrow) / attention_s(wide) == doctest::Approx(648.0 / 497.0).epsilon(0.02));
}

TEST_CASE("serve::step: FP4 weights without FP4 tensor cores run weight-only (4-bit bytes, bf16 MMA)") {
  const auto model = model::load_model("gpt-oss-120b");
  const auto h200 = device_of("h200-sxm");
  const auto b200 = device_of("b200");
  CHECK(compute_precision(WeightPrecision::fp4, h200) == ComputePrecision::bf16);
  CHECK(compute_precision(WeightPrecision::fp4, b200) == ComputePrecision::fp4);
  CHECK(compute_precision(WeightPrecision::fp8, h200) == ComputePrecision::fp8);
  // TP 2 (MoE TP 2), as the dstack P/D runs: decode streams the experts at 4.5 bits instead of
  // 8 (MXFP4 on Hopper), prefill's expert GEMMs run on bf16 tensor cores (half FP8's peak, which
  // FP8 GEMMs reach 0.85 of in a whole step).
  const InstanceShape shape{2, 1, 1, 1, 2};
  const StepContext fp4{&model, &h200, shape, WeightPrecision::fp4, KvPrecision::bf16, false};
  const StepContext fp8{&model, &h200, shape, WeightPrecision::fp8, KvPrecision::bf16, false};
  CHECK(decode_step(fp4, 16, 2048, 0).weights_s < 0.7 * decode_step(fp8, 16, 2048, 0).weights_s);
  CHECK(prefill_step(fp4, 16384, 2048).gemm_s > 1.3 * 0.85 * prefill_step(fp8, 16384, 2048).gemm_s);
}

TEST_CASE("serve::decode_step: early engines wait for their host work between steps") {
  // vLLM 0.7's V0 engine: 4 ms per step and 0.08 ms per running sequence (vllm issues #6854 and
  // #6801); SGLang 0.4.3 only under attention DP, which turned its overlap scheduler off.
  const auto model = model::load_model("deepseek-r1");
  const auto device = device_of("h200-sxm");
  const RoleContext v0{&model, &device, &find_engine_version_to_cost(Engine::vllm, "0.7"), WeightPrecision::fp8,
                       KvPrecision::bf16};
  const auto tp8 = step_context(v0, {8, 1, 1, 1, 8});
  CHECK(tp8.host_step_s == doctest::Approx(4e-3));
  CHECK(tp8.host_per_sequence_s == doctest::Approx(0.08e-3));
  StepContext overlapped = tp8;
  overlapped.host_step_s = 0;
  overlapped.host_per_sequence_s = 0;
  const auto serial = decode_step(tp8, 16, 3600, 0);
  const auto hidden = decode_step(overlapped, 16, 3600, 0);
  CHECK(serial.seconds - hidden.seconds == doctest::Approx(4e-3 + 16 * 0.08e-3));
  CHECK(serial.floors_s - hidden.floors_s == doctest::Approx(serial.seconds - hidden.seconds));
  const RoleContext sglang{&model, &device, &find_engine_version_to_cost(Engine::sglang, "0.4.3"), WeightPrecision::fp8,
                           KvPrecision::bf16};
  CHECK(step_context(sglang, {1, 1, 8, 1, 8}).host_step_s > 0);
  CHECK(step_context(sglang, {8, 1, 1, 1, 8}).host_step_s == 0);
  // Current engines overlap it.
  const RoleContext v1{&model, &device, &find_engine_version(Engine::vllm, ""), WeightPrecision::fp8, KvPrecision::bf16};
  CHECK(step_context(v1, {8, 1, 1, 1, 8}).host_step_s == 0);
}

TEST_CASE("serve::role_step_context: vLLM 0.11's largest CUDA graph follows the --max-num-seqs brix emits") {
  // min(max_num_seqs * 2, 512), then min(max_num_batched_tokens, that) (vLLM 0.11 SchedulerConfig);
  // vLLM 0.9's default capture list ends at 512 whatever the limit.
  const auto model = model::load_model("deepseek-r1");
  const auto device = device_of("h200-sxm");
  const RoleContext v11{&model, &device, &find_engine_version_to_cost(Engine::vllm, "0.11"), WeightPrecision::fp8,
                        KvPrecision::bf16};
  RoleEstimate role;
  role.plan.shape = {8, 1, 1, 1, 8};
  role.chunk_tokens = 8192;
  role.engine_max_sequences = 1024; // the engine's default
  CHECK(role_step_context(v11, role).cuda_graph_max_tokens == doctest::Approx(512));
  role.engine_max_sequences = 100; // a plan whose KV pool holds 100 sequences per rank
  CHECK(role_step_context(v11, role).cuda_graph_max_tokens == doctest::Approx(200));
  role.chunk_tokens = 128;
  CHECK(role_step_context(v11, role).cuda_graph_max_tokens == doctest::Approx(128));
  const RoleContext v09{&model, &device, &find_engine_version_to_cost(Engine::vllm, "0.9"), WeightPrecision::fp8,
                        KvPrecision::bf16};
  role.chunk_tokens = 8192;
  CHECK(role_step_context(v09, role).cuda_graph_max_tokens == doctest::Approx(512));
}

TEST_CASE("serve::prefill_step: offloaded experts stall the step by what the layers between do not hide") {
  const auto model = model::load_model("deepseek-r1");
  const auto device = device_of("gb200"); // NVLink-C2C: 450 GB/s both ways, 225 each
  CHECK(device.host_to_device_bytes_per_s == doctest::Approx(225e9));
  const InstanceShape shape{1, 1, 2, 2, 1};
  StepContext context{&model, &device, shape, WeightPrecision::fp4, KvPrecision::fp8, false};
  const double copy = expert_bytes_per_gpu(model, shape, WeightPrecision::fp4) / 225e9; // ~14 ms a layer
  const auto resident = prefill_step(context, 16384, 2000);
  const double layer = resident.seconds / 61; // an upper bound: the head is in the step too
  REQUIRE(copy > layer);                      // one layer between does not hide a copy at 16K tokens ...
  REQUIRE(copy < 3 * layer * 0.95);           // ... three do
  context.offload = 4;
  CHECK(prefill_step(context, 16384, 2000).seconds == doctest::Approx(resident.seconds));
  context.offload = 2;
  const auto stalled = prefill_step(context, 16384, 2000);
  const double stall = stalled.seconds - resident.seconds;
  // 29 offloaded layers (3, 5, ..., 59), each waiting copy − (its one resident layer).
  CHECK(stall > 0);
  CHECK(stall / 29 > copy - layer);
  CHECK(stall / 29 < copy - 0.9 * layer);
  CHECK(stalled.weights_s - resident.weights_s == doctest::Approx(stall));
  // At the vLLM run's 65,536 tokens per step one layer hides the copy ("completely hidden").
  context.offload = 0;
  const double big = prefill_step(context, 65536, 2000).seconds;
  context.offload = 2;
  CHECK(prefill_step(context, 65536, 2000).seconds == doctest::Approx(big));
}

namespace {

/// DeepSeek-R1 as wide EP over two H200 nodes: DP attention 16 + EP 16, FP8 weights.
StepContext wide_ep(const model::ModelSpec& model, const ServeDevice& device, bool overlap) {
  return {&model, &device, InstanceShape{1, 1, 16, 16, 1}, WeightPrecision::fp8, KvPrecision::bf16, overlap};
}

} // namespace

TEST_CASE("serve::prefill_step: vLLM's DBO runs prefill GEMMs on the SMs DeepEP's normal kernels leave") {
  const auto model = model::load_model("deepseek-r1");
  const auto device = device_of("h200-sxm");
  StepContext shared = wide_ep(model, device, true);
  StepContext capped = shared;
  capped.overlap_reserves_comm_sms = true;
  const auto beside = prefill_step(shared, 8192, 2000);
  const auto whole = prefill_step(capped, 8192, 2000);
  // Every GEMM of the micro-batched forward runs on 112 of Hopper's 132 SMs (vLLM UBatchWrapper:
  // deep_gemm.set_num_sms(132 - 20)), not only the stretch beside the all-to-all.
  REQUIRE(beside.gemm_s > 0);
  CHECK(whole.gemm_s == doctest::Approx(beside.gemm_s * 132.0 / 112.0).epsilon(0.05));
  CHECK(whole.seconds > beside.seconds);
  // Decode's low-latency kernels hold no SMs: the cap is not set and the step does not move.
  CHECK(decode_step(capped, 256, 3000, 0).seconds == doctest::Approx(decode_step(shared, 256, 3000, 0).seconds));
  // Without overlap there is nothing to cap.
  shared.overlap = false;
  capped.overlap = false;
  CHECK(prefill_step(capped, 8192, 2000).seconds == doctest::Approx(prefill_step(shared, 8192, 2000).seconds));
}

TEST_CASE("serve::decode_step: vLLM's DBO splits a step only above its token thresholds") {
  const auto model = model::load_model("deepseek-r1");
  const auto device = device_of("h200-sxm");
  const StepContext single = wide_ep(model, device, false);
  StepContext dbo = wide_ep(model, device, true);
  dbo.overlap_min_decode_tokens = 32;   // --dbo-decode-token-threshold's default
  dbo.overlap_min_prefill_tokens = 512; // --dbo-prefill-token-threshold's default
  // 32 decode tokens per rank is not above the threshold: one batch, the all-to-all exposed.
  CHECK(decode_step(dbo, 32, 3000, 0).seconds == doctest::Approx(decode_step(single, 32, 3000, 0).seconds));
  // 64 is: two micro-batches, part of the all-to-all hidden.
  CHECK(decode_step(dbo, 64, 3000, 0).seconds < decode_step(single, 64, 3000, 0).seconds);
  // Two 2,000-token prompts are above the prefill threshold; a 400-token chunk is not.
  CHECK(prefill_step(dbo, 400, 200).seconds == doctest::Approx(prefill_step(single, 400, 200).seconds));
  CHECK(prefill_step(dbo, 4000, 2000).seconds < prefill_step(single, 4000, 2000).seconds);
}

TEST_CASE("plan::attention_projections: the GEMMs training and serving cost the attention block with") {
  const auto deepseek = model::load_model("deepseek-r1");
  // MLA on 8 ranks (16 heads each): q down 1,536 x 7,168 and kv down 576 x 7,168 (replicated),
  // q up 16·192 x 1,536, kv up 16·256 x 512, output 7,168 x 16·128.
  const auto mla = plan::attention_projections(deepseek, 8);
  REQUIRE(mla.size() == 5);
  CHECK(mla[0].n == 1536);
  CHECK(mla[0].k == 7168);
  CHECK(mla[1].n == 16 * 192);
  CHECK(mla[1].k == 1536);
  CHECK(mla[1].up_projection);
  CHECK(mla[2].n == 576);
  CHECK(mla[3].n == 16 * 256);
  CHECK(mla[3].k == 512);
  CHECK(mla[3].up_projection);
  CHECK(mla[4].n == 7168);
  CHECK(mla[4].k == 16 * 128);
  const auto llama = model::load_model("llama-3.1-70b");
  // GQA on 8 ranks: 8 query heads and one K and one V head of 128, output 8,192 x 1,024.
  const auto gqa = plan::attention_projections(llama, 8);
  REQUIRE(gqa.size() == 2);
  CHECK(gqa[0].n == (8 + 2) * 128);
  CHECK(gqa[0].after_norm);
  CHECK(gqa[1].k == 1024);
  // The list holds the weights serving streams for the block, GEMM by GEMM.
  for (const auto* model : {&deepseek, &llama}) {
    for (const int tp : {1, 8}) {
      double weights = 0;
      for (const auto& projection : plan::attention_projections(*model, tp)) {
        weights += projection.n * projection.k;
      }
      CHECK(weights == doctest::Approx(attention_params_per_gpu(*model, tp)).epsilon(0.01));
    }
  }
}

TEST_CASE("serve::prefill_step: each attention projection runs at its own shape's efficiency") {
  // Llama-3.1-70B in bf16 on 8 H200s, 16,384 prompt tokens: every GEMM is compute-bound, so the
  // step's GEMM time is the layers' projections and MLP at plan::gemm_shape_efficiency of their
  // own shapes. The output projection reduces over 1,024 (8 heads of 128), where a tile's K-loop
  // ramp costs more than over the hidden 8,192: one hidden x hidden GEMM would run it faster.
  const auto model = model::load_model("llama-3.1-70b");
  const auto device = device_of("h200-sxm");
  const StepContext context{&model, &device, {8, 1, 1, 1, 8}, WeightPrecision::bf16, KvPrecision::bf16, false};
  const double m = 16384;
  const auto rate = [&](double n, double k) {
    return device.bf16_flops * device.gemm_fraction *
           plan::gemm_shape_efficiency(device.sms, {m, n, k}, device.tile_ramp_k);
  };
  double projections = 0;
  for (const auto& projection : plan::attention_projections(model, 8)) {
    projections += 2.0 * m * projection.n * projection.k / rate(projection.n, projection.k);
  }
  const double h = static_cast<double>(model.hidden);
  const double ffn = static_cast<double>(model.ffn) / 8;
  const double mlp = 2.0 * m * 3.0 * h * ffn * (2.0 / 3.0 / rate(2.0 * ffn, h) + 1.0 / 3.0 / rate(h, ffn));
  const auto step = prefill_step(context, m, m);
  // (scale 0: relative to the values alone, 0.4 s, not to 1 + them)
  CHECK(step.gemm_s == doctest::Approx(static_cast<double>(model.layers) * (projections + mlp)).epsilon(0.002).scale(0));
  // The single hidden x hidden GEMM put the step 0.7% lower, which the check above sees.
  CHECK(rate(h, 1024) < 0.95 * rate(h, h));
}
