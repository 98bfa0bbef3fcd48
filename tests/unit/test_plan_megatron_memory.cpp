// brix's model-state memory per GPU against Megatron-Core's own accounting
// (megatron/training/theoretical_memory_usage.py, `report_theoretical_memory`): parameters on
// the most loaded shard (the first stage: its layers and the embedding, over TP; with an untied
// output layer and no pipeline, that too) times 18 bytes (bf16 weight, fp32 gradient, fp32
// master copy and two Adam moments), or 6 + 12/DP with the distributed optimizer. For MoE the
// distributed optimizer shards the dense parameters over the DP group and the experts over the
// expert-DP group (TP·CP·DP / (EP·ETP)), the experts being split over EP·ETP.
//
// The expected figures are computed here from each config's numbers with Megatron's formula,
// not with brix's parameter counter, so the two accountings are checked against each other.
#include <brix/cluster/gpu_catalog.hpp>
#include <brix/model/loader.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/memory.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

using namespace brix;
using namespace brix::plan;

namespace {

/// The config numbers Megatron's formula reads (HF names in comments).
struct MegatronConfig {
  double hidden = 0;       // hidden_size
  double layers = 0;       // num_hidden_layers
  double heads = 0;        // num_attention_heads
  double kv_heads = 0;     // num_key_value_heads (num_query_groups)
  double head_dim = 0;     // head_dim (kv_channels)
  double ffn = 0;          // intermediate_size (dense MLP)
  bool gated = true;       // SwiGLU: 3/2 the weights of a two-matrix MLP
  double vocab = 0;        // vocab_size
  bool untied = true;      // tie_word_embeddings false
  double experts = 0;      // routed experts (0: dense)
  double expert_ffn = 0;   // moe_intermediate_size
};

struct Shards {
  double dense = 0;  ///< non-expert parameters on the most loaded GPU
  double expert = 0; ///< expert parameters on it
};

Shards megatron_shards(const MegatronConfig& c, int tp, int pp, int ep) {
  const double h = c.hidden;
  const double q_ratio = c.head_dim * c.heads / h;
  const double gated = c.gated ? 1.5 : 1.0;
  const double attention = 2.0 * h * h * ((1.0 + c.kv_heads / c.heads) * q_ratio);
  const double norms = 2.0 * h;
  const double dense_mlp = c.experts > 0 ? h * c.experts : 2.0 * h * c.ffn * gated; // MoE: the router
  const double transformer = c.layers * (attention + dense_mlp + norms) + h;       // + final norm
  const double embedding = h * c.vocab;
  Shards shards;
  shards.dense = (transformer / pp + embedding) / tp;
  if (c.untied && pp == 1) {
    shards.dense += embedding / tp;
  }
  if (c.experts > 0) {
    shards.expert = c.layers / pp * c.experts * 2.0 * h * c.expert_ffn * gated / (ep * 1.0);
  }
  return shards;
}

double megatron_state_bytes(const Shards& shards, int zero, int dp, int expert_dp) {
  if (zero == 0) {
    return 18.0 * (shards.dense + shards.expert);
  }
  return (6.0 + 12.0 / dp) * shards.dense + (6.0 + 12.0 / expert_dp) * shards.expert;
}

double brix_state_bytes(const std::string& model_name, const std::string& layout_text) {
  const auto model = model::load_model(model_name);
  const auto layout = parse_layout(layout_text);
  const TrainingShape shape{1024, 4096};
  const auto stages = uniform_stages(model, layout.pp);
  const auto memory = stage_memory(model, cluster::find_gpu("h100-sxm"), layout, shape, 0, stages.front());
  return memory.weights + memory.grads + memory.optimizer;
}

void check(const std::string& model, const MegatronConfig& config, int tp, int pp, int dp, int ep, int zero) {
  const auto layout = fmt::format("tp={},pp={},dp={},ep={},zero={},recompute=full", tp, pp, dp, ep, zero);
  const int expert_dp = tp * dp / ep;
  const double expected = megatron_state_bytes(megatron_shards(config, tp, pp, ep), zero, dp, expert_dp);
  const double brix = brix_state_bytes(model, layout);
  MESSAGE(model, " ", layout, ": brix ", brix / (1 << 30), " GiB, Megatron ", expected / (1 << 30), " GiB, ratio ",
          brix / expected);
  CHECK(brix == doctest::Approx(expected).epsilon(0.05));
}

const MegatronConfig k_llama_8b{4096, 32, 32, 8, 128, 14336, true, 128256, true, 0, 0};
const MegatronConfig k_llama_70b{8192, 80, 64, 8, 128, 28672, true, 128256, true, 0, 0};
const MegatronConfig k_gpt_175b{12288, 96, 96, 96, 128, 49152, false, 51200, false, 0, 0};
const MegatronConfig k_mixtral_8x22b{6144, 56, 48, 8, 128, 0, true, 32000, true, 8, 16384};
const MegatronConfig k_qwen3_235b{4096, 94, 64, 4, 128, 0, true, 151936, true, 128, 1536};

} // namespace

TEST_CASE("plan::stage_memory model states agree with Megatron-Core's accounting") {
  check("llama-3.1-8b", k_llama_8b, 1, 1, 8, 1, 0);     // 18 B/param, untied output on the one stage
  check("llama-3.1-8b", k_llama_8b, 2, 2, 16, 1, 1);    // distributed optimizer: 6 + 12/16
  check("llama-3.1-70b", k_llama_70b, 8, 4, 4, 1, 1);
  check("gpt-175b", k_gpt_175b, 8, 8, 8, 1, 1);         // tied embedding, GeLU MLP
  check("gpt-175b", k_gpt_175b, 8, 8, 8, 1, 0);
  check("mixtral-8x22b", k_mixtral_8x22b, 2, 4, 8, 8, 1); // experts over EP 8, expert DP 2
  check("qwen3-235b-a22b", k_qwen3_235b, 1, 2, 64, 16, 1); // 128 experts over EP 16, expert DP 4
}
