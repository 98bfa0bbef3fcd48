#include <brix/cluster/gpu_catalog.hpp>
#include <brix/model/loader.hpp>
#include <brix/model/params.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/memory.hpp>
#include <brix/plan/validate.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace brix;
using namespace brix::plan;

namespace {

model::ModelSpec bundled(const std::string& name) {
  return model::load_model(std::string(BRIX_TEST_SOURCE_DIR) + "/configs/models/" + name);
}

/// Korthikanti et al. 2022 setting: Megatron GPT with dropout and without flash attention.
Layout korthikanti(int tp, bool sp, Recompute recompute) {
  Layout layout;
  layout.tp = tp;
  layout.sp = sp;
  layout.recompute = recompute;
  layout.flash_attention = false;
  return layout;
}

/// Tensor parallelism with sequence parallelism, and expert parallelism.
Layout moe_layout(int tp, int ep) {
  Layout layout;
  layout.tp = tp;
  layout.sp = true;
  layout.ep = ep;
  return layout;
}

} // namespace

TEST_CASE("plan::layer_activation_bytes matches Korthikanti's table") {
  const auto model = bundled("gpt-22b.yaml");
  const TrainingShape shape{4, 2048};
  const double s = 2048, b = 1, h = 6144, a = 64, t = 8;
  const double sbh = s * b * h;
  const double scores = 5.0 * a * s / h; // the 5·a·s/h term, in units of s·b·h

  auto stored = [&](const Layout& layout) {
    return stored_activation_bytes(layer_activation_bytes(model, layout, shape, 0), layout.recompute);
  };
  CHECK(stored(korthikanti(1, false, Recompute::none)) == doctest::Approx(sbh * (34 + scores)));
  CHECK(stored(korthikanti(8, false, Recompute::none)) ==
        doctest::Approx(sbh * (10 + 24 / t + scores / t)));
  CHECK(stored(korthikanti(8, true, Recompute::none)) == doctest::Approx(sbh * (34 / t + scores / t)));
  CHECK(stored(korthikanti(8, false, Recompute::selective)) == doctest::Approx(sbh * (10 + 24 / t)));
  CHECK(stored(korthikanti(8, true, Recompute::selective)) == doctest::Approx(34 * sbh / t));
  CHECK(stored(korthikanti(1, false, Recompute::full)) == doctest::Approx(2 * sbh));

  SUBCASE("components: attention 11sbh + 5as²b, MLP 19sbh, norms 4sbh") {
    const auto act = layer_activation_bytes(model, korthikanti(1, false, Recompute::none), shape, 0);
    CHECK(act.attention_projections + act.attention_core == doctest::Approx(11 * sbh));
    CHECK(act.attention_scores == doctest::Approx(5 * a * s * s * b));
    CHECK(act.mlp == doctest::Approx(19 * sbh));
    CHECK(act.layer_input + act.norms == doctest::Approx(4 * sbh));
  }
  SUBCASE("flash attention drops the score term, CP divides the sequence") {
    Layout flash = korthikanti(8, true, Recompute::none);
    flash.flash_attention = true;
    const auto act = layer_activation_bytes(model, flash, shape, 0);
    CHECK(act.attention_scores == 0);
    flash.cp = 2;
    CHECK(layer_activation_bytes(model, flash, shape, 0).total() == doctest::Approx(act.total() / 2));
  }
  SUBCASE("fp8 keeps linear-layer inputs in one byte") {
    Layout fp8 = korthikanti(1, false, Recompute::selective);
    fp8.precision = Precision::fp8;
    // Saved GEMM inputs: qkv 2, out 2, fc1 2, fc2 8 (× s·b·h) halve: 34 − 7 = 27.
    CHECK(stored(fp8) == doctest::Approx(27 * sbh));
  }
}

TEST_CASE("plan::layer_activation_bytes MoE and GQA") {
  const auto model = bundled("deepseek-r1.json");
  auto layout = moe_layout(8, 8);
  const TrainingShape shape{1024, 4096};
  const auto dense = layer_activation_bytes(model, layout, shape, 0);
  const auto moe = layer_activation_bytes(model, layout, shape, 3);
  CHECK(dense.experts == 0);
  CHECK(moe.experts > 0);
  // k = 8 routed copies: the routed intermediates (gate+up 4f, fc2 input 2f) of 8 experts and
  // the dispatched token copies fc1 keeps (2h); the experts' outputs are not kept, Megatron-Core
  // applying the routing weights inside the activation (experts.py, weighted_bias_swiglu).
  const double sb = 4096;
  CHECK(moe.experts == doctest::Approx(8 * sb * (6.0 * 2048) / 8 + 8 * sb * 1 * 2.0 * 7168 / 8));
  // DeepSeek-V3 (report Sec. 3.3.3) caches the MoE SwiGLU inputs in FP8: gate+up 1 B each.
  layout.precision = Precision::fp8;
  SoftwareProfile deepseek;
  deepseek.fp8_moe_activation_cache = true;
  const auto cached = layer_activation_bytes_of_kind(model, layout, shape, true, deepseek);
  CHECK(cached.experts == doctest::Approx(8 * sb * (2.0 * 2048 + 1.0 * 2048) / 8 + 8 * sb * 1.0 * 7168 / 8));
  const auto te = layer_activation_bytes_of_kind(model, layout, shape, true);
  CHECK(te.experts == doctest::Approx(8 * sb * (4.0 * 2048 + 1.0 * 2048) / 8 + 8 * sb * 1.0 * 7168 / 8));
  // GQA shrinks k and v: Llama-405B has 8 kv heads of 128 for 128 query heads.
  const auto llama = bundled("llama-3.1-405b.json");
  Layout one;
  const auto act = layer_activation_bytes(llama, one, TrainingShape{1, 1}, 0);
  CHECK(act.attention_core == doctest::Approx(2.0 * (16384 + 1024 + 1024) + 4.0 * 128));
}

TEST_CASE("plan::layer_activation_bytes of a Llama block: no dropout, SwiGLU, GQA") {
  // Llama 3.1 405B at TP 8 with sequence parallelism, flash attention, seq 8192, micro-batch 1,
  // what Megatron-Core with TransformerEngine keeps per layer (× s·b·h/t, 2-byte tensors):
  // attention block: norm input 2, norm output = QKV input 2, q 2 and k, v 2·(8·128)/h each,
  // flash output = projection input 2, fp32 softmax statistics; MLP block: norm input 2, norm
  // output = fc1 input 2, fc1 output (gate and up) 4f/h, SwiGLU output = fc2 input 2f/h.
  // No dropout masks: Llama trains with dropout 0, and PyTorch's dropout at p = 0 returns its
  // input without a mask. Korthikanti's 34 counts two masks, GeLU's 4f/h and 6 for MHA's q, k, v.
  // Megatron's report_theoretical_memory (theoretical_memory_usage.py) uses 18 + 4f/h = 31.0
  // for any model: it models neither gating, GQA nor a model without dropout.
  const auto llama = bundled("llama-3.1-405b.json");
  CHECK_FALSE(llama.dropout);
  Layout layout;
  layout.tp = 8;
  layout.sp = true;
  const TrainingShape shape{2048, 8192};
  const double s = 8192, h = 16384, f = 53248, a = 128, t = 8;
  const double sbh_t = s * h / t;
  const auto act = layer_activation_bytes(llama, layout, shape, 0);
  CHECK(act.layer_input == doctest::Approx(2 * sbh_t));
  CHECK(act.norms == doctest::Approx(2 * sbh_t));
  CHECK(act.attention_projections == doctest::Approx(4 * sbh_t));
  CHECK(act.attention_core == doctest::Approx((2 + 4 * 1024 / h) * sbh_t + 4 * s * a / t));
  CHECK(act.attention_scores == 0);
  CHECK(act.mlp == doctest::Approx((2 + 6 * f / h) * sbh_t));
  CHECK(act.total() == doctest::Approx((12.25 + 6 * f / h) * sbh_t + 4 * s * a / t));
  // 31.75 against Megatron's 31.0: within 2.5%.
  CHECK(act.total() / sbh_t == doctest::Approx(18 + 4 * f / h).epsilon(0.025));
}

TEST_CASE("plan::stage_memory model states: 18 B/param, 6 + 12/d with the distributed optimizer") {
  const auto model = bundled("gpt-1.7b.yaml");
  const auto& gpu = cluster::find_gpu("a100-sxm-80gb");
  const double params = static_cast<double>(model::count_parameters(model).total);
  Layout layout;
  const TrainingShape shape{8, 2048};
  const auto whole = stage_memory(model, gpu, layout, shape, 0, uniform_stage(model, 1, 0));
  CHECK(whole.params == doctest::Approx(params));
  CHECK(whole.weights + whole.grads + whole.optimizer == doctest::Approx(18 * params));
  layout.dp = 8;
  layout.zero = 1;
  const auto sharded = stage_memory(model, gpu, layout, shape, 0, uniform_stage(model, 1, 0));
  CHECK(sharded.weights + sharded.grads + sharded.optimizer == doctest::Approx((6 + 12.0 / 8) * params));
  layout.zero = 3;
  const auto zero3 = stage_memory(model, gpu, layout, shape, 0, uniform_stage(model, 1, 0));
  CHECK(zero3.grads == doctest::Approx(4 * params / 8));
  // + the largest matrix (here the 51200 × 2304 embedding) gathered and one prefetched, in bf16.
  CHECK(zero3.weights == doctest::Approx(2 * params / 8 + 2 * 2 * 51200.0 * 2304));
  CHECK(whole.total == doctest::Approx(whole.weights + whole.grads + whole.optimizer +
                                       whole.activations + whole.other));
  CHECK(whole.fits());
}

TEST_CASE("plan::stage_memory charges the gradient buffer in the precision it is reduced in") {
  // Megatron-Core's main_grad is fp32 by default (18 B/param); with --grad-reduce-in-bf16
  // (Megatron-Bridge's `cfg.ddp.grad_reduce_in_fp32 = False`) it is the parameters' bf16: 16 B.
  const auto model = bundled("gpt-1.7b.yaml");
  const auto& gpu = cluster::find_gpu("a100-sxm-80gb");
  const double params = static_cast<double>(model::count_parameters(model).total);
  SoftwareProfile bf16_grads;
  bf16_grads.grad_reduce_bytes = 2.0;
  Layout layout;
  const TrainingShape shape{8, 2048};
  const auto states = [&](const Layout& at) {
    const auto m = stage_memory(model, gpu, at, shape, 0, uniform_stage(model, 1, 0), bf16_grads);
    return m.weights + m.grads + m.optimizer;
  };
  CHECK(states(layout) == doctest::Approx(16 * params));
  layout.dp = 8;
  layout.zero = 1;
  CHECK(states(layout) == doctest::Approx((4 + 12.0 / 8) * params));
  layout.zero = 2;
  CHECK(states(layout) == doctest::Approx((2 + 14.0 / 8) * params));

  // MoE: the dense gradients shard over DP·CP, the experts' over expert-DP, both at 2 B.
  const auto moe = bundled("deepseek-r1.json");
  const auto expert = parse_layout("tp=8,sp=1,pp=4,dp=2,ep=8,zero=2"); // expert-DP 8·2/8 = 2
  const TrainingShape moe_shape{1024, 4096};
  const auto span = uniform_stage(moe, 4, 1);
  const auto fp32 = stage_memory(moe, cluster::find_gpu("h100-sxm"), expert, moe_shape, 1, span);
  const auto bf16 = stage_memory(moe, cluster::find_gpu("h100-sxm"), expert, moe_shape, 1, span, bf16_grads);
  const double dense = bf16.params - bf16.expert_params;
  CHECK(fp32.grads == doctest::Approx(4.0 * (dense / 2 + bf16.expert_params / 2)));
  CHECK(bf16.grads == doctest::Approx(2.0 * (dense / 2 + bf16.expert_params / 2)));
  CHECK(bf16.optimizer == doctest::Approx(fp32.optimizer));
}

TEST_CASE("plan::stage_memory experts shard over EP and expert-DP") {
  const auto model = bundled("deepseek-r1.json");
  const auto& gpu = cluster::find_gpu("h100-sxm");
  Layout layout;
  layout.tp = 8;
  layout.sp = true;
  layout.pp = 4;
  layout.dp = 2;
  layout.ep = 8;
  layout.zero = 1;
  const TrainingShape shape{1024, 4096};
  const auto span = uniform_stage(model, 4, 1);
  const auto memory = stage_memory(model, gpu, layout, shape, 1, span);
  double experts = 0;
  for (int layer = span.first_layer; layer <= span.last_layer; ++layer) {
    experts += static_cast<double>(model::layer_parameters(model, layer).experts);
  }
  CHECK(memory.expert_params == doctest::Approx(experts / 8));
  // Expert-DP = tp·dp·cp/(ep·etp) = 2: the 12 B optimizer of the experts is halved.
  layout.zero = 0;
  const auto unsharded = stage_memory(model, gpu, layout, shape, 1, span);
  CHECK(unsharded.optimizer - memory.optimizer ==
        doctest::Approx(12.0 * (memory.params - memory.expert_params) / 2 + 12.0 * memory.expert_params / 2));
  // TP8 × PP4 × DP2, as proposed for the example deployment, does not fit 80 GB H100s: ~1.3 TB of model states over 64 GPUs.
  CHECK_FALSE(memory.fits());
}

TEST_CASE("plan::stage_memory FSDP gathers a layer's dense part and only this rank's experts") {
  // FSDP (ZeRO-3 with fp32 shards) all-gathers one decoder layer in bf16 before use, prefetches
  // the next and keeps its bf16 gradients until reduce-scattered: 3 × 2 B × the gathered layer.
  // The routed experts are sharded over expert-DP and gathered there: a GPU gathers its EP
  // rank's 256/64 = 4 experts, never all 256 (which would be 11.3 B parameters per layer).
  const auto model = bundled("deepseek-r1.json");
  const auto& gpu = cluster::find_gpu("h100-sxm");
  Layout layout;
  layout.pp = 4;
  layout.dp = 64;
  layout.ep = 64;
  layout.zero = 3;
  layout.recompute = Recompute::full;
  const TrainingShape shape{256, 4096};
  const auto span = uniform_stage(model, 4, 3);
  SoftwareProfile fsdp;
  fsdp.fsdp_fp32_shards = true;
  const auto memory = stage_memory(model, gpu, layout, shape, 3, span, fsdp);
  const auto layer = model::layer_parameters(model, span.last_layer);
  const double gathered = static_cast<double>(layer.attention + layer.mlp_dense + layer.norms + layer.router) +
                          static_cast<double>(layer.experts) / 64;
  const double shards = memory.params - memory.expert_params; // dense, over dp·cp = 64
  CHECK(memory.weights == doctest::Approx(4.0 * (shards / 64 + memory.expert_params / 1) + 6.0 * gathered).epsilon(0.02));
  CHECK(memory.weights < 20.0 * (1 << 30));
}

namespace {
/// GPT 1.7B on one A100 stage at 64 × 2048 tokens: the model states of a data-parallel layout.
struct ShardingCase {
  model::ModelSpec model = bundled("gpt-1.7b.yaml");
  double params = static_cast<double>(model::count_parameters(model).total);
  StageMemory of(const std::string& layout, const SoftwareProfile& software = SoftwareProfile{}) const {
    return stage_memory(model, cluster::find_gpu("a100-sxm-80gb"), parse_layout(layout), TrainingShape{64, 2048}, 0,
                        uniform_stage(model, 1, 0), software);
  }
};
} // namespace

TEST_CASE("plan::stage_memory hybrid sharding shards the model states over the shard group only") {
  // 32 data-parallel ranks as 4 replicas of 8-GPU shard groups (FSDP HYBRID_SHARD): each GPU
  // holds 1/8 of the states instead of 1/32; with cp = 2 the shard group is 8 · 2 ranks.
  const ShardingCase at;
  const double params = at.params;
  const auto full = at.of("dp=32,zero=3");
  const auto hybrid = at.of("dp=32,zero=3,shard=8");
  CHECK(full.grads == doctest::Approx(4 * params / 32));
  CHECK(hybrid.grads == doctest::Approx(4 * params / 8));
  CHECK(hybrid.optimizer == doctest::Approx(12 * params / 8));
  CHECK(hybrid.weights - full.weights == doctest::Approx(2 * params / 8 - 2 * params / 32));
  const auto zero2 = at.of("dp=32,zero=2,shard=8");
  CHECK(zero2.weights == doctest::Approx(2 * params));
  CHECK(zero2.grads == doctest::Approx(4 * params / 8));
  const auto context = at.of("dp=16,cp=2,zero=3,shard=8");
  CHECK(context.grads == doctest::Approx(4 * params / 16));
  // Megatron-Core's partial distributed optimizer: master weights and moments over 8, the
  // gradient buffer whole.
  const auto zero1 = at.of("dp=32,zero=1,shard=8");
  CHECK(zero1.optimizer == doctest::Approx(12 * params / 8));
  CHECK(zero1.grads == doctest::Approx(4 * params));
}

TEST_CASE("plan::stage_memory reshard=0 holds the stage's gathered weights until backward") {
  const ShardingCase at;
  const double params = at.params;
  // DeepSpeed-style ZeRO-3: the bf16 shard, and instead of two gathered matrices the whole model.
  const auto kept = at.of("dp=32,zero=3,reshard=0");
  CHECK(kept.weights == doctest::Approx(2 * params / 32 + 2 * params));
  // FSDP: the fp32 shard, every layer gathered in bf16, one layer's bf16 gradient.
  SoftwareProfile fsdp;
  fsdp.fsdp_fp32_shards = true;
  const auto resharded = at.of("dp=32,zero=3", fsdp);
  const auto held = at.of("dp=32,zero=3,reshard=0", fsdp);
  const double layer = (resharded.weights - 4 * params / 32) / 6; // 3 gathered layers' bf16 bytes / 2
  CHECK(held.weights == doctest::Approx(4 * params / 32 + 2 * params + 2 * layer));
  CHECK(held.grads == doctest::Approx(resharded.grads));
}

TEST_CASE("plan::validate hybrid sharding needs a ZeRO stage and whole replicas, and reshard=0 needs zero 3") {
  const auto model = bundled("gpt-1.7b.yaml");
  CHECK_FALSE(check_sharding(parse_layout("dp=32,zero=3,shard=8,reshard=0")));
  CHECK_FALSE(check_sharding(parse_layout("dp=32,zero=2,shard=8")));
  // ZeRO-1 over 8 ranks, 4 copies: Megatron-Core's --num-distributed-optimizer-instances 4.
  CHECK_FALSE(check_sharding(parse_layout("dp=32,zero=1,shard=8")));
  CHECK(check_sharding(parse_layout("dp=32,zero=0,shard=8")) == Problem{ProblemKind::shard_zero, 1, 0});
  CHECK(check_sharding(parse_layout("dp=32,zero=2,reshard=0")) == Problem{ProblemKind::shard_zero, 3, 2});
  CHECK(check_sharding(parse_layout("dp=32,zero=3,shard=6")) == Problem{ProblemKind::shard_group, 6, 32});
  const ValidationTarget target{32, 8, true, software_modern()};
  const auto problems = validate(model, target, parse_layout("dp=32,zero=3,shard=6"), TrainingShape{64, 2048});
  REQUIRE(problems.size() == 1);
  CHECK(describe_sharding(problems.front()).starts_with("shard=6 does not divide DP=32"));
}

TEST_CASE("plan::stage_memory CPU offloading keeps one offloaded layer's activations on the GPU") {
  // Llama-3.1-70B as Megatron-Bridge runs it on 64 GB200s (FSDP, MBS 2, no recomputation, 40 of
  // 80 layers offloaded): 39 layers' stored activations leave the GPU, the one being copied stays.
  const auto model = bundled("llama-3.1-70b.json");
  const auto& gpu = cluster::find_gpu("gb200");
  auto layout = parse_layout("dp=64,zero=3,mbs=2,recompute=none,precision=fp8");
  const TrainingShape shape{256, 8192};
  const auto span = uniform_stage(model, 1, 0);
  const auto kept = stage_memory(model, gpu, layout, shape, 0, span);
  layout.offload = 40;
  const auto offloaded = stage_memory(model, gpu, layout, shape, 0, span);
  const double per_layer = stored_activation_bytes(layer_activation_bytes_of_kind(model, layout, shape, false),
                                                   Recompute::none);
  CHECK(kept.activations_per_micro_batch == doctest::Approx(80 * per_layer));
  CHECK(offloaded.activations_per_micro_batch == doctest::Approx(41 * per_layer));
  CHECK(offloaded.total < gpu.memory_bytes);
  CHECK(kept.total > gpu.memory_bytes);
}

TEST_CASE("plan::validate refuses CPU offloading with a pipeline or of every layer") {
  const auto model = bundled("llama-3.1-70b.json");
  const ValidationTarget target{64, 8, true, software_modern()};
  const TrainingShape shape{256, 8192};
  Layout layout;
  layout.dp = 64;
  layout.offload = 40;
  CHECK(validate(model, target, layout, shape).empty());
  layout.offload = 80;
  const auto all = validate(model, target, layout, shape);
  REQUIRE(all.size() == 1);
  CHECK(all.front() == Problem{ProblemKind::cpu_offload, 80, 1});
  layout.offload = 10;
  layout.pp = 2;
  layout.dp = 32;
  const auto piped = validate(model, target, layout, shape);
  REQUIRE(piped.size() == 1);
  CHECK(piped.front() == Problem{ProblemKind::cpu_offload, 10, 2});
}

TEST_CASE("plan::stored_activation_bytes selective+mlp keeps only the MLP block's input") {
  // Megatron-Core's --recompute-modules layernorm moe (the Qwen3-235B long-context runs of the
  // MoE model zoo): the MoE layer is recomputed from its input, which is all it keeps.
  const auto model = bundled("qwen3-235b-a22b.json");
  const auto layout = moe_layout(4, 8);
  const TrainingShape shape{256, 4096};
  const auto act = layer_activation_bytes(model, layout, shape, 0);
  const double sb = 4096;
  const double router_and_input = 2.0 * sb * 4096 / 4 + 4.0 * sb * 128 / 4;
  const double experts = 8 * sb * (6.0 * 1536) / 4 + 8 * sb * 2.0 * 4096 / 4;
  const double activation_outputs = 8 * sb * 2.0 * 1536 / 4; // already dropped by selective
  CHECK(act.mlp_block_recomputed ==
        doctest::Approx(router_and_input + experts - activation_outputs - 2.0 * sb * 4096 / 4));
  CHECK(stored_activation_bytes(act, Recompute::selective) - stored_activation_bytes(act, Recompute::selective_mlp) ==
        doctest::Approx(act.mlp_block_recomputed));
  CHECK(stored_activation_bytes(act, Recompute::selective_mlp) > stored_activation_bytes(act, Recompute::full));
}

TEST_CASE("plan::uniform_stage splits contiguously") {
  const auto model = bundled("deepseek-r1.json"); // 61 layers
  for (int pp : {1, 2, 3, 4, 8, 16, 61}) {
    CAPTURE(pp);
    const auto stages = uniform_stages(model, pp);
    int next = 0;
    for (int i = 0; i < pp; ++i) {
      CHECK(stages[i].first_layer == next);
      CHECK(stages[i].layers() >= 1);
      CHECK(stages[i].layers() <= (61 + pp - 1) / pp);
      next = stages[i].last_layer + 1;
    }
    CHECK(next == 61);
    CHECK(stages.front().embedding);
    CHECK(stages.back().head);
  }
  // 61 layers over 4 stages as Megatron's first/last stage sizes express it: equal middle stages
  // of ⌈61/4⌉ = 16, the rest shared by the embedding and head stages.
  const auto four = uniform_stages(model, 4);
  CHECK(four[0].layers() == 15);
  CHECK(four[1].layers() == 16);
  CHECK(four[2].layers() == 16);
  CHECK(four[3].layers() == 14);
}

TEST_CASE("plan::in_flight_micro_batches") {
  Layout layout;
  layout.pp = 8;
  const TrainingShape shape{512, 2048};
  CHECK(in_flight_micro_batches(layout, shape, 0) == 8);
  CHECK(in_flight_micro_batches(layout, shape, 7) == 1);
  CHECK(in_flight_micro_batches(layout, TrainingShape{4, 2048}, 0) == 4); // m < pp
  layout.schedule = Schedule::interleaved;
  layout.vpp = 4;
  // Korthikanti: the first stage holds p·(1 + (p−1)/(p·v)) micro-batches' worth.
  CHECK(in_flight_micro_batches(layout, shape, 0) == doctest::Approx(8 * (1 + 7.0 / 32)));
}

TEST_CASE("plan::in_flight_micro_batches counts the embedding and loss chunks chunk by chunk") {
  // Llama 3 405B as its paper lays it out (Sec. 3.3.2): PP 16, the first chunk of the first
  // stage only the embedding, the last chunk of the last stage only the loss: 126 + 2 places
  // over 16·8 chunks of one layer. 32 micro-batches per step.
  const auto model = bundled("llama-3.1-405b.json");
  Layout layout;
  layout.tp = 8;
  layout.sp = true;
  layout.pp = 16;
  layout.vpp = 8;
  layout.schedule = Schedule::interleaved;
  layout.pp_embedding = true;
  layout.pp_loss = true;
  const TrainingShape shape{32, 8192};
  const auto first = uniform_stage(model, pipeline_split(layout), 0);
  const auto middle = uniform_stage(model, pipeline_split(layout), 1);
  const auto last = uniform_stage(model, pipeline_split(layout), 15);
  REQUIRE(first.layers() == 7);
  REQUIRE(last.layers() == 7);
  // Stage 0 warms up with 2·15 + 7·16 + 1 = 143 chunk forwards: chunk 0 (no layer) for
  // micro-batches 0–15, chunks 1–7 (one layer each) for 0–15, chunk 0 again for 16–30:
  // 7·16 = 112 layers' activations, 16 of its 7-layer spans (the uniform count says 143/8).
  CHECK(in_flight_micro_batches(layout, shape, 0) == doctest::Approx(143.0 / 8));
  CHECK(in_flight_micro_batches(layout, shape, 0, first) == doctest::Approx(112.0 / 7));
  // Stage 15: 7·16 + 1 = 113 forwards, the last one the loss-only chunk: 112 layers, not 7·113/8.
  CHECK(in_flight_micro_batches(layout, shape, 15, last) == doctest::Approx(112.0 / 7));
  // A middle stage has no such chunk: 2·14 + 7·16 + 1 = 141 chunks of one layer.
  CHECK(in_flight_micro_batches(layout, shape, 1, middle) == doctest::Approx(141.0 / 8));
  // stage_memory holds that many spans' activations (DP 64: 2,048 sequences, 32 per rank).
  const auto gpu = cluster::find_gpu("h100-sxm");
  layout.dp = 64;
  layout.zero = 3;
  const auto memory = stage_memory(model, gpu, layout, TrainingShape{2048, 8192}, 15, last);
  CHECK(memory.in_flight == doctest::Approx(16.0));
  // Without the embedding and loss places the uniform count stands.
  layout.pp_embedding = false;
  CHECK(in_flight_micro_batches(layout, shape, 0, first) == in_flight_micro_batches(layout, shape, 0));
}

TEST_CASE("plan::validate names every constraint a layout breaks") {
  const auto model = bundled("deepseek-r1.json");
  const TrainingShape shape{1024, 4096};
  const ValidationTarget target{64, 8, true};
  // The first (only) problem's kind.
  auto first = [&](const model::ModelSpec& m, const Layout& l, const TrainingShape& s, ValidationTarget t) {
    const auto problems = validate(m, t, l, s);
    return problems.empty() ? std::optional<ProblemKind>{} : problems.front().kind;
  };
  Layout layout;
  layout.tp = 8;
  layout.sp = true;
  layout.pp = 4;
  layout.dp = 2;
  layout.ep = 8;
  CHECK(validate(model, target, layout, shape).empty());
  CHECK(first(model, layout, shape, {160, 8, true}) == ProblemKind::world_size);
  const ProblemContext context{&model, shape, {160, 8, true}, 80e9};
  CHECK(describe(validate(model, {160, 8, true}, layout, shape).front(), context, layout) ==
        "TP×CP×PP×DP = 8×1×4×2 = 64 ranks, but the cluster has 160 GPUs");
  Layout bad = layout;
  bad.tp = 3;
  bad.dp = 4; // tp·pp·dp = 48: 3 divides neither the 8-GPU domain nor the 128 heads, and
              // the 8 experts' groups do not tile tp·dp = 12
  const auto three = validate(model, {48, 8, true}, bad, shape);
  REQUIRE(three.size() == 3);
  CHECK(three[0] == Problem{ProblemKind::tp_crosses_node, 3, 8});
  CHECK(three[1] == Problem{ProblemKind::tp_heads, 3});
  CHECK(three[2] == Problem{ProblemKind::ep_group, 8, 12});
  bad = layout;
  bad.ep = 3;
  CHECK(first(model, bad, shape, target) == ProblemKind::ep_experts);
  bad = layout;
  bad.tp = 16;
  bad.dp = 1;
  CHECK(first(model, bad, shape, target) == ProblemKind::tp_crosses_node);
  bad = layout;
  bad.ep = 32;
  CHECK(first(model, bad, shape, target) == ProblemKind::ep_group);
  bad = layout;
  bad.sp = false;
  CHECK(first(model, bad, shape, target) == ProblemKind::moe_tp_needs_sp);
  CHECK(first(model, layout, TrainingShape{1023, 4096}, target) == ProblemKind::batch);
  bad = layout;
  bad.pp = 64;
  bad.dp = 1;
  bad.tp = 1;
  bad.ep = 1;
  CHECK(first(model, bad, shape, target) == ProblemKind::pp_layers);
  bad = layout;
  bad.cp = 2;
  bad.dp = 1;
  CHECK(first(model, bad, TrainingShape{1024, 4098}, target) == ProblemKind::cp_sequence);
  bad = layout;
  bad.vpp = 2;
  CHECK(first(model, bad, shape, target) == ProblemKind::vpp_needs_interleaved);
  bad.schedule = Schedule::interleaved; // 61 layers over pp 4 × vpp 2
  // Megatron-Core of 2024 needs equal virtual stages; 2025's pipeline layouts take any split.
  auto core_2024 = target;
  core_2024.software = software_by_name("megatron-core-2024");
  CHECK(first(model, bad, shape, core_2024) == ProblemKind::vpp_layers);
  CHECK(first(model, bad, shape, target) != ProblemKind::vpp_layers);
  bad.vpp = 16; // 64 virtual stages for 61 layers: one would be empty
  CHECK(first(model, bad, shape, target) == ProblemKind::vpp_layers);
  bad = layout;
  bad.pp = 1;
  bad.dp = 8;
  bad.schedule = Schedule::dualpipe;
  CHECK(first(model, bad, shape, target) == ProblemKind::schedule_needs_pipeline);
  bad = layout;
  bad.schedule = Schedule::dualpipe;
  // DualPipe runs only where the framework has it (DeepSeek's, brix's; not Megatron-Core).
  CHECK(first(model, bad, shape, target) == ProblemKind::software_lacks);
  auto zero_bubble = target;
  zero_bubble.software = software_by_name("deepseek-2024");
  CHECK(validate(model, zero_bubble, bad, shape).empty()); // pp 4, 512 micro-batches
  CHECK(first(model, bad, TrainingShape{8, 4096}, zero_bubble) == ProblemKind::dualpipe);
  bad = layout;
  bad.micro_batch = 0;
  CHECK(validate(model, target, bad, shape) == std::vector<Problem>{{ProblemKind::bad_size}});
  // KV heads: Megatron-Core needs them divisible by TP (here 8 KV heads, TP 16 on an NVL72-like
  // domain); MLA has none to split.
  const auto llama = bundled("llama-3.1-405b.json");
  Layout gqa;
  gqa.tp = 16;
  gqa.sp = true;
  CHECK(first(llama, gqa, shape, {16, 16, true}) == ProblemKind::tp_kv_heads);
  Layout fp8;
  fp8.precision = Precision::fp8;
  CHECK(first(llama, fp8, shape, {1, 8, false}) == ProblemKind::fp8_unsupported);
  CHECK(name(ProblemKind::tp_heads) == "tp_heads");
  CHECK(name(ProblemKind::world_size) == "world_mismatch");
}

TEST_CASE("plan::micro_batches_per_step costs uneven and missing batches") {
  Layout layout;
  layout.dp = 64;
  layout.micro_batch = 2;
  CHECK(micro_batches_per_step(layout, {1024, 4096}) == 8);
  CHECK(micro_batches_per_step(layout, {1000, 4096}) == 7); // costing an uneven batch: whole micro-batches
  layout.pp = 4;
  layout.vpp = 2;
  CHECK(micro_batches_per_step(layout, {0, 4096}) == 8);    // no batch: enough to fill the pipeline
}

TEST_CASE("plan::stage_memory FSDP2 without gradient sync accumulates unsharded gradients") {
  // NeMo AutoModel's set_requires_gradient_sync(is_optim_step): until the last micro-batch FSDP2
  // keeps every parameter's unsharded gradient, upcast to the fp32 reduce dtype.
  const ShardingCase at;
  const double params = at.params;
  const auto torchtitan = software_by_name("fsdp2-2025");
  const auto automodel = software_by_name("automodel-2025");
  // 64 sequences over 32 ranks, one each: 2 micro-batches.
  CHECK(at.of("dp=32,zero=3", torchtitan).grads == doctest::Approx(4 * params / 32));
  CHECK(at.of("dp=32,zero=3", automodel).grads == doctest::Approx(4 * params));
  // One micro-batch: the last one syncs, nothing accumulates unsharded; the sharded gradient
  // is kept in the parameters' bf16 (automodel-2025 casts the model to bf16).
  CHECK(at.of("dp=32,zero=3,mbs=2", automodel).grads == doctest::Approx(2 * params / 32));
  // With a pipeline, torch's PipelineStage decides, not the trainer's switch: sharded bf16
  // gradients where torchtitan's are fp32.
  CHECK(at.of("dp=16,pp=2,zero=3", automodel).grads ==
        doctest::Approx(at.of("dp=16,pp=2,zero=3", torchtitan).grads / 2));
}

TEST_CASE("plan::stage_memory FSDP2 over a model cast to bf16 keeps bf16 shards and moments") {
  // NeMo AutoModel's initialize_weights(dtype=torch.bfloat16) ends in self.to(dtype) before
  // FSDP2 shards the model, and torch.optim.Adam's moments take the parameters' dtype: 2 B
  // shards (no fp32 master), 2 B sharded gradients, 2 + 2 B moments, where fsdp2-2025 holds
  // 4 + 4 + 8 B. The gathered bf16 blocks are the same.
  const ShardingCase at;
  const double params = at.params;
  const auto fp32 = at.of("dp=32,zero=3,mbs=2", software_by_name("fsdp2-2025"));
  const auto bf16 = at.of("dp=32,zero=3,mbs=2", software_by_name("automodel-2025"));
  CHECK(fp32.weights - bf16.weights == doctest::Approx(2 * params / 32));
  CHECK(fp32.grads == doctest::Approx(4 * params / 32));
  CHECK(bf16.grads == doctest::Approx(2 * params / 32));
  CHECK(fp32.optimizer == doctest::Approx(8 * params / 32));
  CHECK(bf16.optimizer == doctest::Approx(4 * params / 32));
}

TEST_CASE("plan::stage_memory experts wrapped without a reduce dtype accumulate bf16 gradients") {
  // AutoModel's apply_fsdp gives the experts' fully_shard no mp_policy: while gradient sync is
  // off their unsharded gradients stay bf16, the rest of the block's are upcast to fp32.
  const auto model = bundled("qwen3-30b-a3b.json");
  const auto gpu = cluster::find_gpu("h100-sxm");
  const auto automodel = software_by_name("automodel-2025");
  // 16 sequences over 8 ranks, one each: 2 micro-batches, experts over EP 8.
  const auto memory = stage_memory(model, gpu, parse_layout("dp=8,ep=8,zero=3"), TrainingShape{16, 4096}, 0,
                                   uniform_stage(model, 1, 0), automodel);
  REQUIRE(memory.expert_params > 0);
  const double dense = memory.params - memory.expert_params;
  CHECK(memory.grads == doctest::Approx(4 * dense + 2 * memory.expert_params));
  auto upcast = automodel;
  upcast.expert_grads_in_param_dtype = false;
  const auto all_fp32 = stage_memory(model, gpu, parse_layout("dp=8,ep=8,zero=3"), TrainingShape{16, 4096}, 0,
                                     uniform_stage(model, 1, 0), upcast);
  CHECK(all_fp32.grads == doctest::Approx(4 * memory.params));
}

TEST_CASE("plan::overlap_warmup_chunks: combined 1F1B holds one more virtual micro-batch in flight") {
  // Megatron-Core's get_pp_rank_microbatches adds one warm-up forward under
  // overlap_moe_expert_parallel_comm with an interleaved pipeline; nothing else gets it.
  const auto moe = bundled("qwen3-235b-a22b.json");
  const auto dense = bundled("llama-3.1-70b.json");
  SoftwareProfile overlap;
  overlap.overlap_all_to_all = true;
  SoftwareProfile serial = overlap;
  serial.overlap_all_to_all = false;
  auto layout = parse_layout("tp=1,pp=4,dp=64,ep=64,mbs=1,vpp=6,schedule=interleaved,recompute=selective");
  CHECK(overlap_warmup_chunks(moe, layout, overlap) == 1);
  CHECK(overlap_warmup_chunks(moe, layout, serial) == 0);
  CHECK(overlap_warmup_chunks(dense, layout, overlap) == 0);
  auto no_ep = layout;
  no_ep.ep = 1;
  CHECK(overlap_warmup_chunks(moe, no_ep, overlap) == 0);
  auto one_f_one_b = parse_layout("tp=1,pp=4,dp=64,ep=64,mbs=1,recompute=selective");
  CHECK(overlap_warmup_chunks(moe, one_f_one_b, overlap) == 0);
  auto full = layout;
  full.recompute = Recompute::full; // Megatron-Core refuses the overlap with full recomputation
  CHECK(overlap_warmup_chunks(moe, full, overlap) == 0);

  // Stage 0 of PP 4 × VP 6 with 48 micro-batches: Megatron's 2·3 + 5·4 = 26 warm-up chunks and
  // the steady step's one make 27 chunks of 1/6 of the stage; the extra warm-up forward one more.
  const TrainingShape shape{3072, 4096};
  CHECK(in_flight_micro_batches(layout, shape, 0) == doctest::Approx(27.0 / 6));
  CHECK(in_flight_micro_batches(layout, shape, 0, 1) == doctest::Approx(28.0 / 6));
  // The last stage: 5·4 + 1 chunks, and one more.
  CHECK(in_flight_micro_batches(layout, shape, 3, 1) == doctest::Approx(22.0 / 6));
  // Never more chunks than the step has.
  CHECK(in_flight_micro_batches(layout, TrainingShape{256, 4096}, 0, 1) == doctest::Approx(4.0));

  // stage_memory charges exactly that chunk's activations.
  const auto& gpu = cluster::find_gpu("gb200");
  StageSpan span;
  span.first_layer = 0;
  span.last_layer = 23;
  const auto with = stage_memory(moe, gpu, layout, shape, 0, span, overlap);
  const auto without = stage_memory(moe, gpu, layout, shape, 0, span, serial);
  CHECK(with.in_flight - without.in_flight == doctest::Approx(1.0 / 6));
  CHECK(with.activations - without.activations == doctest::Approx(with.activations_per_micro_batch / 6));
}
