#pragma once
// A decoder-only transformer as brix plans it. Loaded from a Hugging Face config.json or a brix
// YAML model file (model/loader.hpp); everything else (parameter counts, FLOPs, memory, time)
// is computed from these fields by pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace brix::model {

/// layernorm_no_bias: LayerNorm with a weight only (DBRX, MPT with no_bias).
enum class NormKind { layernorm, rmsnorm, layernorm_no_bias };
/// gelu: two matrices (h→f→h); gated (SwiGLU/GeGLU): three (gate, up, down); squared_relu: two
/// matrices with ReLU² between them (Nemotron-4).
enum class MlpKind { gelu, gated, squared_relu };
/// learned: a [max_positions, h] table (GPT-2, OPT, Megatron GPT); rotary and alibi have none.
enum class PositionKind { learned, rotary, alibi };

/// Multi-head latent attention (DeepSeek-V2/V3): low-rank q and kv projections.
struct MlaSpec {
  std::int64_t q_lora_rank = 0; ///< 0: q projected directly from h
  std::int64_t kv_lora_rank = 0;
  std::int64_t qk_nope_head_dim = 0;
  std::int64_t qk_rope_head_dim = 0;
  std::int64_t v_head_dim = 0;
};

/// Mixture of experts in the MLP of some layers.
struct MoeSpec {
  std::int64_t routed_experts = 0;
  std::int64_t experts_per_token = 0;
  std::int64_t expert_ffn = 0;       ///< intermediate size of one routed expert
  std::int64_t shared_experts = 0;   ///< count of always-active experts
  std::int64_t shared_ffn = 0;       ///< intermediate size of all shared experts together
  std::int64_t first_dense_layers = 0; ///< the first k layers keep a dense MLP (DeepSeek)
  std::int64_t layer_frequency = 1;  ///< every n-th layer (after the dense ones) is MoE
  /// A per-expert bias on the router: DeepSeek-V3's score correction, gpt-oss's router bias.
  bool router_bias = false;
  /// Group-limited routing (DeepSeek-V3: n_group 8, topk_group 4): experts are split into
  /// `routing_groups` groups and a token picks its experts from at most `groups_per_token` of them.
  std::int64_t routing_groups = 1;
  std::int64_t groups_per_token = 1;
  bool shared_expert_gate = false;   ///< Qwen2-MoE's sigmoid gate on the shared expert (h params)
  /// gpt-oss's clamped SwiGLU (config.json swiglu_limit 7.0): the gate half clamped to at most
  /// the limit and the linear half to ±limit before the activation. 0: no clamp.
  double activation_clamp = 0;
};

struct ModelSpec {
  std::string name;   ///< e.g. "deepseek-r1"
  std::string family; ///< HF model_type, or "gpt" for brix YAML GPT models
  std::string source; ///< file it was read from

  std::int64_t hidden = 0;
  std::int64_t layers = 0;
  std::int64_t heads = 0;
  std::int64_t kv_heads = 0;
  std::int64_t head_dim = 0; ///< per-head q/k/v size for standard attention
  std::int64_t ffn = 0;      ///< intermediate size of the dense MLP
  std::int64_t vocab = 0;
  std::int64_t max_positions = 0;
  std::int64_t default_seq_len = 4096;
  /// The config's rope_scaling as the serving engines read it to derive the context they serve
  /// (serve_run.cpp served_context): its rope_type (or type), factor and
  /// original_max_position_embeddings; an empty type where the config has none.
  struct RopeScaling {
    std::string type;
    double factor = 1.0;
    std::int64_t original = 0;
  };
  RopeScaling rope_scaling;

  bool tied_embeddings = false;
  NormKind norm = NormKind::rmsnorm;
  MlpKind mlp = MlpKind::gated;
  PositionKind position = PositionKind::rotary;
  bool qkv_bias = false;    ///< bias on the q/k/v projections (Qwen2, GPT)
  bool linear_bias = false; ///< bias on every linear layer (GPT-2/3, OPT, BLOOM, NeoX)
  bool dropout = false;     ///< dropout masks are stored for backward (Megatron GPT of 2021–22)
  bool embedding_norm = false; ///< a norm right after the embedding (BLOOM)
  bool qk_norm = false;        ///< per-head RMSNorm on q and k (Qwen3): 2·head_dim params per layer
  /// Norms after attention and after the MLP as well as before (Grok-1): 4 norms per layer.
  bool post_norms = false;
  /// A learned logit per head added to the softmax's denominator (gpt-oss): `heads` params per layer.
  bool attention_sinks = false;
  /// Sliding-window attention per decoder layer: empty when every layer attends to the whole
  /// sequence, else one entry per layer, 0 for full attention and w > 0 for a window of w keys.
  std::vector<std::int64_t> layer_window;
  /// Bits per parameter of the routed experts' weights as the checkpoint stores them: 16 (bf16)
  /// unless the config quantizes them (MXFP4: 4-bit values + an 8-bit scale per 32 = 4.25). Training
  /// keeps bf16 weights and fp32 states either way; this is the weight footprint for serving.
  double expert_weight_bits = 16.0;
  /// What the loader assumed to read the file, for a `brix: warning:` (an unknown model_type read
  /// as its nearest family); empty when nothing was assumed.
  std::string assumption;
  /// Learned input/output projections between a smaller embedding and the hidden size (OPT-350M's
  /// word_embed_proj_dim); 0 when the embedding has the hidden size.
  std::int64_t embedding_projection = 0;

  std::optional<MlaSpec> mla;
  std::optional<MoeSpec> moe;
  std::int64_t mtp_layers = 0; ///< multi-token-prediction modules (DeepSeek-V3 nextn layers)
  /// How the published checkpoint stores its linear weights: "bf16" (also fp16/fp32 configs),
  /// "fp8" (quantization_config quant_method fp8, e.g. DeepSeek-V3/R1's 128×128 blocks) or "fp4"
  /// (NVFP4/MXFP4 checkpoints). Serving plans default to it.
  std::string checkpoint_weights = "bf16";
  /// The FP4 checkpoint is OCP MXFP4 (quant_method mxfp4, e.g. gpt-oss's experts), not NVFP4:
  /// vLLM and SGLang also run MXFP4 weight-only on GPUs without FP4 tensor cores (Hopper).
  bool checkpoint_mxfp4 = false;

  /// Sliding window of decoder layer `layer` (0-based), 0 for full attention.
  [[nodiscard]] std::int64_t attention_window(std::int64_t layer) const {
    return layer_window.empty() ? 0 : layer_window[static_cast<std::size_t>(layer)];
  }

  /// Whether decoder layer `layer` (0-based) has a MoE MLP.
  [[nodiscard]] bool is_moe_layer(std::int64_t layer) const {
    if (!moe) {
      return false;
    }
    if (layer < moe->first_dense_layers) {
      return false;
    }
    return (layer - moe->first_dense_layers) % moe->layer_frequency == 0;
  }
};

} // namespace brix::model
