// --emit megatron and deepspeed for the ZeRO stages, hybrid sharding and reshard=0: flags the
// framework accepts together (Megatron-Core 0.13's arguments.py asserts, DeepSpeed's MiCS), and
// what they cannot say written beside them.
#include <brix/model/loader.hpp>
#include <brix/plan/emit.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/step_time.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace brix::plan;

namespace {

struct EmitCase {
  brix::model::ModelSpec model = brix::model::load_model("llama-2-7b");
  [[nodiscard]] EmitContext context() const {
    EmitContext out;
    out.model = &model;
    out.shape = {64, 4096};
    out.nodes = 4;
    out.gpus_per_node = 8;
    return out;
  }
  [[nodiscard]] std::string megatron(const std::string& layout) const {
    return emit_megatron(parse_layout(layout), context());
  }
  [[nodiscard]] std::string deepspeed(const std::string& layout) const {
    return emit_deepspeed(parse_layout(layout), context());
  }
};

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("plan::emit_megatron states the distributed optimizer under every ZeRO stage") {
  const EmitCase at;
  CHECK_FALSE(has(at.megatron("tp=1,pp=1,dp=32,zero=0"), "--use-distributed-optimizer"));
  const auto zero1 = at.megatron("tp=1,pp=1,dp=32,zero=1");
  CHECK(has(zero1, "--use-distributed-optimizer"));
  CHECK_FALSE(has(zero1, "--use-custom-fsdp"));
  // --use-custom-fsdp and --overlap-param-gather assert the distributed optimizer; FSDP that
  // shards gradients asserts gradient-accumulation fusion off.
  const auto zero3 = at.megatron("tp=1,pp=1,dp=32,zero=3");
  CHECK(has(zero3, "--use-distributed-optimizer \\\n--use-custom-fsdp \\\n--data-parallel-sharding-strategy "
                   "optim_grads_params \\\n--no-gradient-accumulation-fusion \\\n"));
  CHECK(megatron_uses_fsdp(parse_layout("tp=1,pp=1,dp=32,zero=3")));
  CHECK_FALSE(megatron_uses_fsdp(parse_layout("tp=1,pp=1,dp=32,zero=1")));
  // ZeRO-2 shards the gradients: FSDP's optim_grads, not the distributed optimizer's whole buffer.
  CHECK(has(at.megatron("tp=1,pp=1,dp=32,zero=2"), "--data-parallel-sharding-strategy optim_grads \\\n"));
}

TEST_CASE("plan::emit_megatron writes hybrid sharding as distributed-optimizer instances") {
  const EmitCase at;
  CHECK(has(at.megatron("tp=1,pp=1,dp=32,zero=1,shard=8"), "--num-distributed-optimizer-instances 4 \\\n"));
  CHECK(has(at.megatron("tp=1,pp=1,dp=32,zero=3,shard=8"), "--num-distributed-optimizer-instances 4 \\\n"));
  CHECK_FALSE(has(at.megatron("tp=1,pp=1,dp=32,zero=3,shard=32"), "--num-distributed-optimizer-instances"));
  const auto held = at.megatron("tp=1,pp=1,dp=32,zero=3,reshard=0");
  CHECK(has(held, "# reshard=0 has no Megatron-LM flag: its FSDP frees every layer's gathered parameters"));
}

TEST_CASE("plan::emit_deepspeed writes MiCS only for ZeRO-3 over several replicas") {
  const EmitCase at;
  CHECK(has(at.deepspeed("tp=1,pp=1,dp=32,zero=3,shard=8"), "\"mics_shard_size\": 8"));
  CHECK(deepspeed_uses_mics(parse_layout("tp=1,pp=1,dp=32,zero=3,shard=8")));
  CHECK_FALSE(has(at.deepspeed("tp=1,pp=1,dp=32,zero=3,shard=32"), "mics_shard_size"));
  CHECK_FALSE(deepspeed_uses_mics(parse_layout("tp=1,pp=1,dp=32,zero=3,shard=32")));
  CHECK_FALSE(has(at.deepspeed("tp=1,pp=1,dp=32,zero=2,shard=8"), "mics_shard_size"));
  CHECK(deepspeed_unexpressed(parse_layout("tp=1,pp=1,dp=32,zero=2,shard=8")) ==
        std::vector<std::string>{"shard=8 (MiCS shards only under stage 3)"});
}

TEST_CASE("plan::emit_megatron runs the MoE communication the plan was costed with") {
  // Qwen3-30B-A3B: the dispatcher brix costed (DeepEP's node-level dispatch, or NCCL's
  // all-to-all), grouped expert GEMMs, and combined 1F1B's EP overlap only where Megatron-Core
  // takes it (transformer_config.py: EP > 1, no full recomputation, virtual stages with PP > 1).
  EmitCase at;
  at.model = brix::model::load_model("qwen3-30b-a3b");
  auto context = at.context();
  context.ep_overlap = true;
  const auto flags = [&](const std::string& layout) { return emit_megatron(parse_layout(layout), context); };
  const auto overlapped = flags("tp=1,pp=1,dp=32,ep=8,recompute=selective");
  CHECK(has(overlapped, "--moe-token-dispatcher-type flex"));
  CHECK(has(overlapped, "--moe-flex-dispatcher-backend deepep"));
  CHECK(has(overlapped, "--moe-grouped-gemm"));
  CHECK(has(overlapped, "--overlap-moe-expert-parallel-comm"));
  CHECK_FALSE(has(flags("tp=1,pp=1,dp=32,ep=8,recompute=full"), "--overlap-moe-expert-parallel-comm"));
  // Selective names the modules brix freed (Megatron-Core's default, core_attn, frees nothing
  // under fused attention): the norms and the experts' activation; MLA's up-projections too.
  CHECK(has(overlapped, "--recompute-modules layernorm moe_act \\"));
  const EmitCase dense_case;
  CHECK(has(dense_case.megatron("tp=1,pp=1,dp=32,recompute=selective"), "--recompute-modules layernorm \\"));
  CHECK_FALSE(has(dense_case.megatron("tp=1,pp=1,dp=32,recompute=selective,flash=0"), "--recompute-modules"));
  EmitCase mla;
  mla.model = brix::model::load_model("deepseek-r1");
  CHECK(has(mla.megatron("tp=1,pp=1,dp=32,ep=8,recompute=selective"), "--recompute-modules layernorm moe_act mla_up_proj"));
  // Selective with the MLP recomputes the MoE layer, which Megatron-Core refuses beside the
  // overlap ("disable moe in recompute_modules when enabling overlap_moe_expert_parallel_comm").
  const auto moe_recomputed = flags("tp=1,pp=1,dp=32,ep=8,recompute=selective+mlp");
  CHECK(has(moe_recomputed, "--recompute-modules layernorm mlp moe"));
  CHECK_FALSE(has(moe_recomputed, "--overlap-moe-expert-parallel-comm"));
  CHECK_FALSE(combined_1f1b_runs(parse_layout("tp=1,pp=1,dp=32,ep=8,recompute=selective+mlp")));
  CHECK_FALSE(has(flags("tp=1,pp=4,dp=8,ep=8,recompute=none"), "--overlap-moe-expert-parallel-comm"));
  CHECK(has(flags("tp=1,pp=4,vpp=2,schedule=interleaved,dp=8,ep=8,recompute=none"),
            "--overlap-moe-expert-parallel-comm"));
  // On one NVLink domain of 72 GPUs in 4-GPU nodes (GB200 NVL72) the node-level dispatch is
  // HybridEP's: DeepEP's NVLink path stops at the node's 8 peers.
  auto nvl72 = context;
  nvl72.gpus_per_node = 4;
  nvl72.nvlink_domain = 72;
  const auto mnnvl = emit_megatron(parse_layout("tp=1,pp=1,dp=32,ep=8,recompute=selective"), nvl72);
  CHECK(has(mnnvl, "--moe-flex-dispatcher-backend hybridep"));
  CHECK_FALSE(has(mnnvl, "deepep"));
  nvl72.nvlink_domain = 4;
  CHECK(has(emit_megatron(parse_layout("tp=1,pp=1,dp=32,ep=8,recompute=selective"), nvl72),
            "--moe-flex-dispatcher-backend deepep"));
  // No expert parallelism: nothing to dispatch or overlap.
  const auto local = flags("tp=1,pp=1,dp=32,ep=1,recompute=selective");
  CHECK_FALSE(has(local, "--moe-token-dispatcher-type"));
  CHECK_FALSE(has(local, "--overlap-moe-expert-parallel-comm"));
  // Costed without the overlap, or with NCCL's all-to-all.
  context.ep_overlap = false;
  context.hierarchical_dispatch = false;
  const auto plain = flags("tp=1,pp=1,dp=32,ep=8,recompute=selective");
  CHECK(has(plain, "--moe-token-dispatcher-type alltoall"));
  CHECK_FALSE(has(plain, "--overlap-moe-expert-parallel-comm"));
  // A dense model gets none of it.
  const EmitCase dense;
  CHECK_FALSE(has(dense.megatron("tp=1,pp=1,dp=32"), "--moe-"));
}
