#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/physics.hpp>
#include <brix/plan/search.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <utility>

using namespace brix::plan;
using brix::cluster::NetworkShape;

namespace {
brix::cluster::NodeGroup dgx_a100() {
  brix::cluster::NodeGroup group;
  group.nodes = 4;
  group.gpus_per_node = 8;
  group.gpu.id = "a100-sxm-80gb";
  group.gpu.bf16_flops = 312e12;
  group.gpu.hbm_bytes_per_s = 2.04e12;
  group.gpu.memory_bytes = 80e9;
  group.nvlink_domain = 8;
  group.nvlink_bytes_per_s = 600e9;
  group.nics_per_node = 8;
  group.nic_gbps = 200;
  return group;
}
} // namespace

TEST_CASE("plan::bus_factor follows nccl-tests") {
  CHECK(bus_factor(Collective::all_reduce, 8) == doctest::Approx(2.0 * 7 / 8));
  CHECK(bus_factor(Collective::all_gather, 8) == doctest::Approx(7.0 / 8));
  CHECK(bus_factor(Collective::all_to_all, 4) == doctest::Approx(3.0 / 4));
  CHECK(bus_factor(Collective::all_reduce, 1) == 0.0);
}

TEST_CASE("plan::gemm efficiency grows with shape and is bounded") {
  CHECK(gemm_shape_efficiency(132, {64, 64, 64}) < gemm_shape_efficiency(132, {4096, 4096, 4096}));
  CHECK(gemm_shape_efficiency(132, {1e6, 1e6, 1e6}) <= 1.0);
  const auto device = device_model(dgx_a100(), false, NetworkShape::rail_optimized, 1.0);
  const double big = gemm_seconds(device, 8192, 8192, 8192, 2);
  const double achieved = 2.0 * 8192.0 * 8192 * 8192 / big;
  // Large bf16 GEMMs on A100 reach ~250-270 TFLOP/s in cuBLAS.
  CHECK(achieved > 230e12);
  CHECK(achieved < 280e12);
  // A skinny GEMM is memory-bound: time follows bytes, not FLOPs.
  const double skinny = gemm_seconds(device, 1, 8192, 8192, 2);
  CHECK(skinny > 8192.0 * 8192 * 2 / 2.04e12);
}

TEST_CASE("plan::collective_seconds uses NVLink inside a node and adapters across") {
  const auto device = device_model(dgx_a100(), false, NetworkShape::rail_optimized, 1.0);
  const double bytes = 1e9;
  const double intra = collective_seconds(device, Collective::all_reduce, bytes, {8, 8});
  const double inter = collective_seconds(device, Collective::all_reduce, bytes, {8, 1});
  CHECK(intra == doctest::Approx(bytes * 1.75 / (300e9 * 0.8)).epsilon(0.01));
  // One 200 Gb/s adapter per GPU: 25 GB/s line rate, ~20 GB/s achievable.
  CHECK(inter == doctest::Approx(bytes * 1.75 / 20e9).epsilon(0.01));
  CHECK(collective_seconds(device, Collective::all_reduce, bytes, {1, 1}) == 0.0);
}

TEST_CASE("plan::collective_seconds charges a point-to-point send one latency") {
  // A send to the next pipeline stage is one message, however many stages the group has;
  // a ring all-gather over the same nodes pays a latency per step.
  const auto device = device_model(dgx_a100(), false, NetworkShape::rail_optimized, 1.0);
  const double bytes = 1e6;
  const double near = collective_seconds(device, Collective::send_recv, bytes, {2, 1});
  const double far = collective_seconds(device, Collective::send_recv, bytes, {64, 1});
  CHECK(far == doctest::Approx(near));
  CHECK(near == doctest::Approx(bytes / 20e9 + device.inter_latency_s).epsilon(0.01));
  CHECK(collective_seconds(device, Collective::send_recv, bytes, {8, 8}) ==
        doctest::Approx(bytes / (300e9 * 0.8) + device.intra_latency_s));
}

TEST_CASE("plan::collective_seconds follows the network shape") {
  const double bytes = 1e9;
  const auto time = [&](NetworkShape shape, double oversubscription, Collective op) {
    return collective_seconds(device_model(dgx_a100(), false, shape, oversubscription), op, bytes, {32, 8});
  };
  // Rings across nodes: on their rails (rail-optimised) as fast as one switch; through the spine
  // of a fat tree slower, and slower again when it is tapered.
  const double single = time(NetworkShape::single_switch, 1.0, Collective::all_reduce);
  CHECK(time(NetworkShape::rail_optimized, 1.0, Collective::all_reduce) == doctest::Approx(single));
  CHECK(time(NetworkShape::fat_tree, 1.0, Collective::all_reduce) > single * 1.1);
  CHECK(time(NetworkShape::fat_tree, 2.0, Collective::all_reduce) > time(NetworkShape::fat_tree, 1.0, Collective::all_reduce) * 1.8);
  // A taper above rail switches leaves rings alone; a single switch has no taper at all.
  CHECK(time(NetworkShape::rail_optimized, 2.0, Collective::all_reduce) == doctest::Approx(single));
  CHECK(time(NetworkShape::single_switch, 2.0, Collective::all_reduce) == doctest::Approx(single));
  // All-to-all reaches other rails: on a rail-optimised network it crosses the (tapered) spine.
  const double a2a_single = time(NetworkShape::single_switch, 1.0, Collective::all_to_all);
  CHECK(time(NetworkShape::rail_optimized, 1.0, Collective::all_to_all) > a2a_single * 1.1);
  CHECK(time(NetworkShape::rail_optimized, 2.0, Collective::all_to_all) >
        time(NetworkShape::rail_optimized, 1.0, Collective::all_to_all) * 1.8);
  // Inside a node nothing depends on the network.
  CHECK(collective_seconds(device_model(dgx_a100(), false, NetworkShape::fat_tree, 4.0), Collective::all_reduce, bytes, {8, 8}) ==
        doctest::Approx(collective_seconds(device_model(dgx_a100(), false, NetworkShape::single_switch, 1.0),
                                           Collective::all_reduce, bytes, {8, 8})));
}

TEST_CASE("plan::the network shape changes a plan's step time") {
  // Data parallelism over 4 nodes, one micro-batch: the gradient reduction crosses nodes and
  // has little backward to hide behind (micro-batches of 4 sequences: at TP 8 one sequence
  // leaves each layer waiting for its host, whatever the network).
  const auto model = brix::model::load_model("llama-3.1-8b");
  SearchOptions options;
  options.shape = {16, 4096};
  options.fixed = parse_layout_query("tp=8,pp=1,dp=4,ep=1,etp=1,cp=1,sp=1,mbs=4,vpp=1,schedule=1f1b,recompute=selective,zero=1,"
                                     "grad_compression=none");
  const auto step = [&](NetworkShape shape, double oversubscription) {
    auto cluster = brix::cluster::shorthand_cluster(4, 8, "h100-sxm", std::nullopt, std::nullopt);
    cluster.network = shape;
    cluster.oversubscription = oversubscription;
    const auto result = search_layouts(model, cluster, options);
    REQUIRE(result.plans.size() == 1);
    return result.plans.front().step.step_s;
  };
  const double rail = step(NetworkShape::rail_optimized, 1.0);
  CHECK(step(NetworkShape::single_switch, 1.0) == doctest::Approx(rail));
  const double fat_tree = step(NetworkShape::fat_tree, 1.0);
  CHECK(fat_tree > rail);
  CHECK(step(NetworkShape::fat_tree, 4.0) > fat_tree);
}

TEST_CASE("plan::software profiles") {
  CHECK(software_by_name("modern").flash_attention);
  CHECK_FALSE(software_by_name("megatron-2021").flash_attention);
  CHECK(software_by_name("deepspeed-2021").overlap_param_gather);
  CHECK_THROWS((void)software_by_name("megatron-2020"));
  // The loss all-reduced over DP every micro-batch: Megatron-LM 2021 through core_r0.8 and NeMo 24.x,
  // not Megatron-LM 2025, Megatron-Bridge, nor (unverified) DeepSpeed's loop.
  CHECK(software_by_name("megatron-2021").loss_all_reduce_per_micro_batch);
  CHECK(software_by_name("megatron-2022").loss_all_reduce_per_micro_batch);
  CHECK(software_by_name("megatron-core-2024").loss_all_reduce_per_micro_batch);
  CHECK_FALSE(software_by_name("megatron-core-2025").loss_all_reduce_per_micro_batch);
  CHECK_FALSE(software_by_name("deepspeed-2021").loss_all_reduce_per_micro_batch);
  CHECK_FALSE(software_by_name("modern").loss_all_reduce_per_micro_batch);
  CHECK(micro_batch_sync_seconds(10, 1.0, 1) == 0.0);
}

TEST_CASE("plan::device_model keeps attention at the bf16 rate under FP8 training") {
  // TransformerEngine's FP8 recipe (and torchao's float8) converts the linear layers only: the
  // attention core runs in bf16 whatever the GEMMs do, so FP8 must not double its rate.
  auto group = dgx_a100();
  group.gpu.id = "h100-sxm";
  group.gpu.bf16_flops = 989e12;
  group.gpu.fp8_flops = 1979e12;
  const auto bf16 = device_model(group, false, NetworkShape::rail_optimized, 1.0);
  const auto fp8 = device_model(group, true, NetworkShape::rail_optimized, 1.0);
  CHECK(fp8.peak_flops == doctest::Approx(1979e12));
  CHECK(fp8.peak_flops * fp8.attention_fraction == doctest::Approx(bf16.peak_flops * bf16.attention_fraction));
  // FlashAttention-2 on an H100: 35% of peak (FlashAttention-3 paper); on A100 it is the kernel
  // the attention fraction already describes.
  CHECK(bf16.attention_fraction_fa2 == doctest::Approx(0.35));
  CHECK(fp8.peak_flops * fp8.attention_fraction_fa2 == doctest::Approx(0.35 * 989e12));
  const auto a100 = device_model(dgx_a100(), false, NetworkShape::rail_optimized, 1.0);
  CHECK(a100.attention_fraction_fa2 == doctest::Approx(a100.attention_fraction));
  CHECK(software_by_name("fsdp-2023").attention_kernels == AttentionKernels::flash2);
  CHECK(software_by_name("megatron-core-2024").attention_kernels == AttentionKernels::hopper);
  // FlashAttention-1-class kernels: half of FlashAttention-2 on the same GPU (FlashAttention-2
  // paper: "around 2x speedup compared to FlashAttention").
  CHECK(bf16.attention_fraction_fa1 == doctest::Approx(0.175));
  CHECK(a100.attention_fraction_fa1 == doctest::Approx(0.5 * a100.attention_fraction));
  CHECK(attention_kernels_by_name("flash1") == AttentionKernels::flash1);
  CHECK(attention_kernels_by_name("flash2") == AttentionKernels::flash2);
  CHECK(attention_kernels_by_name("hopper") == AttentionKernels::hopper);
  CHECK_FALSE(attention_kernels_by_name("fa3"));
}

TEST_CASE("plan::fp8_quantisation_cost counts each recipe's bytes and launches per operand") {
  // Every recipe reads the bf16 operand (2 B) and writes an FP8 row-wise and column-wise copy
  // (1 + 1 B) in one kernel; the rest is what the recipe adds.
  const auto delayed = fp8_quantisation_cost(Fp8Recipe::delayed);
  CHECK(delayed.bytes_per_element == doctest::Approx(4.0));
  CHECK(delayed.kernels == 1.0);
  // Current scaling reads the tensor once more for its amax, then turns it into a scale.
  const auto tensorwise = fp8_quantisation_cost(Fp8Recipe::tensorwise);
  CHECK(tensorwise.bytes_per_element == doctest::Approx(6.0));
  CHECK(tensorwise.kernels == 3.0);
  // Block scales: an fp32 per 128 elements per copy.
  const auto blockwise = fp8_quantisation_cost(Fp8Recipe::blockwise);
  CHECK(blockwise.bytes_per_element == doctest::Approx(4.0 + 8.0 / 128.0));
  CHECK(blockwise.kernels == 1.0);
  // MXFP8: an E8M0 per 32 elements per copy, then each copy's scales read and written again by
  // the swizzle kernels.
  const auto mxfp8 = fp8_quantisation_cost(Fp8Recipe::mxfp8);
  CHECK(mxfp8.bytes_per_element == doctest::Approx(4.0 + 2.0 / 32.0 + 4.0 / 32.0));
  CHECK(mxfp8.kernels == 3.0);
}

TEST_CASE("plan::fp8_recipe_by_name takes Megatron-Core's --fp8-recipe names") {
  for (const auto recipe : {Fp8Recipe::delayed, Fp8Recipe::tensorwise, Fp8Recipe::blockwise, Fp8Recipe::mxfp8}) {
    CHECK(fp8_recipe_by_name(fp8_recipe_name(recipe)) == recipe);
  }
  CHECK(fp8_recipe_name(Fp8Recipe::mxfp8) == "mxfp8");
  CHECK_THROWS_AS((void)fp8_recipe_by_name("current"), brix::InputError);
  CHECK(software_modern().fp8_recipe == Fp8Recipe::tensorwise);
}

TEST_CASE("plan::host_launches_per_layer leaves out the operators CUDA graphs capture") {
  const auto launches = [](std::initializer_list<std::string_view> names, bool moe_layer) {
    CudaGraphScopes scopes;
    for (const auto name : names) {
      REQUIRE(add_cuda_graph_scope(scopes, name));
    }
    return host_launches_per_layer(scopes, moe_layer).total();
  };
  // Eager: every operator (attention 15 + MLP side 10; a MoE layer adds router 12, preprocess 8
  // and the 20 of dispatch, experts and combine).
  CHECK(launches({}, false) == 25);
  CHECK(launches({}, true) == 65);
  // A captured scope is one replay in place of its operators.
  CHECK(launches({"attn"}, false) == 11);
  CHECK(launches({"mlp"}, false) == 16);
  CHECK(launches({"attn", "mlp"}, false) == 1);
  CHECK(launches({"mlp"}, true) == 65); // Megatron's mlp scope is the dense layers' MLP only
  CHECK(launches({"moe_router"}, true) == 54);
  CHECK(launches({"moe_router", "moe_preprocess"}, true) == 46);
  CHECK(launches({"attn", "moe_router", "moe_preprocess"}, true) == 31);
  CHECK(launches({"attn", "moe"}, true) == 1);
  CHECK(launches({"layer"}, true) == 1);
  CHECK(launches({"full_iteration"}, true) == 0);
  // A dropless MoE layer's host waits for its token counts after the router and preprocess.
  const auto eager = host_launches_per_layer({}, true);
  CHECK(eager.before_wait == 35);
  CHECK(eager.after_wait == 30);
  CudaGraphScopes router;
  router.attn = router.moe_router = router.moe_preprocess = true;
  CHECK(host_launches_per_layer(router, true).before_wait == 1);
  CHECK(host_launches_per_layer(router, true).after_wait == 30);
  CHECK(host_launches_per_layer({}, false).after_wait == 0); // dense: no wait

  CudaGraphScopes scopes;
  CHECK_FALSE(add_cuda_graph_scope(scopes, "router"));
  CHECK(cuda_graph_scopes_problem(scopes).empty());
  scopes.moe_preprocess = true;
  CHECK(cuda_graph_scopes_problem(scopes) == "moe_preprocess without moe_router");
  scopes.moe_router = true;
  CHECK(cuda_graph_scopes_problem(scopes).empty());
  scopes.moe = true;
  CHECK(cuda_graph_scopes_problem(scopes) == "moe and moe_router both named");
}

TEST_CASE("plan::fp8_gemm_share keeps Hopper's FP8 GEMMs nearer their kernel figure than Blackwell's") {
  // The FP8 GEMM fraction (against the FP8 peak) over the bf16 one, for a GPU of these peaks.
  const auto fp8_over_bf16 = [](const char* id, double bf16_flops, double fp8_flops) {
    auto group = dgx_a100();
    group.gpu.id = id;
    group.gpu.bf16_flops = bf16_flops;
    group.gpu.fp8_flops = fp8_flops;
    const auto fp8 = device_model(group, true, NetworkShape::rail_optimized, 1.0);
    CHECK(fp8.peak_flops == doctest::Approx(fp8_flops > 0 ? fp8_flops : bf16_flops));
    return fp8.gemm_fraction / device_model(group, false, NetworkShape::rail_optimized, 1.0).gemm_fraction;
  };
  CHECK(fp8_over_bf16("h100-sxm", 989e12, 1979e12) == doctest::Approx(0.85));
  CHECK(fp8_over_bf16("h800-sxm", 989e12, 1979e12) == doctest::Approx(0.85));
  // Blackwell: bf16 at the kernels' 0.65, FP8 at 0.75 x 0.72 = 0.54 of its peak (the fraction
  // Megatron-Core's MXFP8 grouped GEMM reaches on GB200), a share of 0.54 / 0.65.
  CHECK(fp8_over_bf16("b200", 2250e12, 4500e12) == doctest::Approx(0.75 * 0.72 / 0.65));
  CHECK(fp8_over_bf16("gb200", 2500e12, 5000e12) == doctest::Approx(0.75 * 0.72 / 0.65));
  // A GPU without FP8 tensor cores runs bf16 at its bf16 fraction whatever is asked.
  CHECK(fp8_over_bf16("a100-sxm-80gb", 312e12, 0.0) == doctest::Approx(1.0));
  auto hopper = dgx_a100().gpu;
  hopper.id = "h200-sxm";
  CHECK(fp8_gemm_share(hopper) == doctest::Approx(0.85));
}

TEST_CASE("plan::device_model: Blackwell's large bf16 GEMMs keep 0.65 of peak, Hopper's 0.72, FP8 on Blackwell 0.54") {
  // XLA's sm_100 matmul table: 1,467 of 2,250 TFLOP/s at 2 x 4096^3 (physics.cpp).
  const auto fractions = [](const char* id) {
    auto group = dgx_a100();
    group.gpu.id = id;
    group.gpu.bf16_flops = 2250e12;
    group.gpu.fp8_flops = 4500e12;
    return std::pair{device_model(group, false, NetworkShape::rail_optimized, 1.0).gemm_fraction,
                     device_model(group, true, NetworkShape::rail_optimized, 1.0).gemm_fraction};
  };
  CHECK(fractions("b200").first == doctest::Approx(0.65));
  CHECK(fractions("gb200").first == doctest::Approx(0.65));
  CHECK(fractions("h100-sxm").first == doctest::Approx(0.72));
  // Blackwell's FP8 GEMMs at 0.54 of the FP8 peak: 2,700 TFLOP/s on a GB200's 5,000, against the
  // 2,672 Megatron-Core's multi-stream cuBLAS MXFP8 grouped GEMM reaches at K 7,168, N 2,048.
  CHECK(fractions("b200").second == doctest::Approx(0.54));
  CHECK(fractions("gb200").second * 5000.0 == doctest::Approx(2672.0).epsilon(0.02));
  // The bf16 device an FP8 run keeps for its router and output head runs at the bf16 fraction.
  auto group = dgx_a100();
  group.gpu.id = "b200";
  group.gpu.bf16_flops = 2250e12;
  group.gpu.fp8_flops = 4500e12;
  CHECK(bf16_gemm_device(device_model(group, true, NetworkShape::rail_optimized, 1.0)).gemm_fraction ==
        doctest::Approx(0.65));
}

TEST_CASE("plan::tp_all_gather_bytes and parameter_gather_bytes move FP8 where the framework gathers FP8") {
  const auto megatron = software_by_name("megatron-core-2025");
  CHECK(tp_all_gather_bytes(true, megatron) == 1.0);
  CHECK(tp_all_gather_bytes(false, megatron) == 2.0);
  CHECK(tp_all_gather_bytes(true, software_by_name("fsdp2-2025")) == 2.0);
  CHECK(parameter_gather_bytes(true, megatron) == 1.0);
  CHECK(parameter_gather_bytes(false, megatron) == 2.0);
  // Megatron-Bridge's blockwise recipe keeps bf16 weights (fp8_param_gather False).
  auto blockwise = megatron;
  blockwise.fp8_recipe = Fp8Recipe::blockwise;
  CHECK(parameter_gather_bytes(true, blockwise) == 2.0);
  // NeMo 24.07's profile is not known to set --fp8-param-gather.
  CHECK(parameter_gather_bytes(true, software_by_name("megatron-core-2024")) == 2.0);
}
