// --emit megatron and deepspeed for the ZeRO stages, hybrid sharding and reshard=0: flags the
// framework accepts together (Megatron-Core 0.13's arguments.py asserts, DeepSpeed's MiCS), and
// what they cannot say written beside them.
#include <brix/model/loader.hpp>
#include <brix/plan/emit.hpp>
#include <brix/plan/layout_parse.hpp>

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
