// Hugging Face families added for issue 13 (Grok-1, gpt-oss, Nemotron-4, MPT, DBRX, Megatron's
// GPT), the per-layer sliding windows and expert quantization any family may declare, and the
// nearest family an unknown model_type is read as. Parameter counts are checked against the published
// totals in tests/unit/test_model_families.cpp.
#include <brix/model/hf_readers.hpp>

#include <brix/model/read_helpers.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace brix::model::hf {

namespace {

using util::DocNode;
using i64 = std::int64_t;

/// Megatron/NeMo configs name biases per block; brix counts a bias on every linear layer or on none.
bool all_or_no_biases(const DocNode& root, std::string_view attention_key, std::string_view mlp_key, bool fallback) {
  const bool attention = root.bool_or(attention_key, fallback);
  const bool mlp = root.bool_or(mlp_key, fallback);
  if (attention != mlp) {
    root.at(mlp_key).fail(fmt::format("{}={} with {}={} is not supported", attention_key, attention, mlp_key, mlp),
                          "brix counts biases on every linear layer or on none: give both the same value");
  }
  return attention;
}

/// Grok-1's feed-forward size from its widening factor (xai-org/grok-1 model.py, ffn_size):
/// int(widening · d_model) · 2 / 3, rounded up to a multiple of 8.
i64 grok_ffn(const DocNode& root, i64 hidden) {
  if (const auto ffn = root.find("intermediate_size")) {
    return ffn->as_positive_int("intermediate_size");
  }
  const auto widening = root.at("widening_factor").as_positive_double("widening_factor");
  i64 ffn = static_cast<i64>(widening * static_cast<double>(hidden)) * 2 / 3;
  return ffn + (8 - ffn % 8) % 8;
}

/// The experts' count and top-k of a Mixtral-style MoE block.
MoeSpec read_experts(const DocNode& root, std::initializer_list<std::string_view> count_keys,
                     std::initializer_list<std::string_view> top_keys, i64 expert_ffn) {
  MoeSpec moe;
  moe.routed_experts = positive_of(root, count_keys);
  const auto top = first_of(root, top_keys);
  moe.experts_per_token = top.as_positive_int(*top_keys.begin());
  if (moe.experts_per_token > moe.routed_experts) {
    top.fail(fmt::format("{}={} exceeds the {} experts", *top_keys.begin(), moe.experts_per_token, moe.routed_experts));
  }
  moe.expert_ffn = expert_ffn;
  return moe;
}

} // namespace

ModelSpec read_grok1(const DocNode& root) {
  // xai-org/grok-1: GeGLU experts (8, top 2) in every layer, an RMSNorm before and after both
  // attention and the MoE block, embedding tied to the output (scaled by output_multiplier_scale).
  ModelSpec model = read_llama_like(root);
  model.ffn = grok_ffn(root, model.hidden);
  model.tied_embeddings = root.bool_or("tie_word_embeddings", true);
  model.post_norms = true;
  model.moe = read_experts(root, {"num_experts", "num_local_experts"}, {"num_experts_per_tok"}, model.ffn);
  return model;
}

ModelSpec read_gpt_oss(const DocNode& root) {
  // openai/gpt-oss: SwiGLU experts with biases (gate_up_proj_bias, down_proj_bias) and a router
  // with a bias in every layer, q/k/v/o biases, a learned sink logit per head, RMSNorm.
  ModelSpec model = read_llama_like(root);
  if (!root.bool_or("attention_bias", true)) {
    root.at("attention_bias")
        .fail("attention_bias=false is not supported for gpt_oss",
              "gpt-oss has biases on attention and expert layers alike, which brix counts together");
  }
  model.qkv_bias = false;
  model.linear_bias = true;
  model.attention_sinks = true;
  model.ffn = positive(root, "intermediate_size");
  model.moe = read_experts(root, {"num_local_experts"}, {"num_experts_per_tok", "experts_per_token"}, model.ffn);
  model.moe->router_bias = true;
  // GptOssConfig's default limit when the file leaves it out.
  model.moe->activation_clamp =
      root.find("swiglu_limit") ? root.at("swiglu_limit").as_positive_double("swiglu_limit") : 7.0;
  return model;
}

ModelSpec read_nemotron(const DocNode& root) {
  // Nemotron-4 (NeMo): LayerNorm1p (a LayerNorm with weight and bias), squared-ReLU MLP of two
  // matrices, no biases, rotary positions on part of each head, GQA, untied embeddings.
  ModelSpec model = read_llama_like(root);
  model.ffn = positive(root, "intermediate_size");
  model.norm = NormKind::layernorm;
  const auto activation = root.string_or("hidden_act", "relu2");
  if (activation == "relu2") {
    model.mlp = MlpKind::squared_relu;
  } else if (activation == "gelu" || activation == "gelu_pytorch_tanh") {
    model.mlp = MlpKind::gelu;
  } else {
    root.at("hidden_act").fail(fmt::format("hidden_act '{}' is not modelled for nemotron", activation),
                               "relu2 or gelu (a non-gated MLP of two matrices)");
  }
  model.qkv_bias = false;
  model.linear_bias = all_or_no_biases(root, "attention_bias", "mlp_bias", false);
  return model;
}

ModelSpec read_mpt(const DocNode& root) {
  // MosaicML MPT (llm-foundry): LayerNorm, GeLU MLP of expansion_ratio·d, learned positions or
  // ALiBi, tied embedding; no_bias drops every bias, the LayerNorms' included.
  ModelSpec model;
  model.hidden = positive_of(root, {"d_model", "hidden_size"});
  model.layers = positive_of(root, {"n_layers", "num_hidden_layers"});
  model.heads = positive_of(root, {"n_heads", "num_attention_heads"});
  model.vocab = positive(root, "vocab_size");
  model.ffn = root.has("expansion_ratio") ? positive(root, "expansion_ratio") * model.hidden
                                          : positive_or(root, "intermediate_size", 4 * model.hidden);
  model.max_positions = positive_of(root, {"max_seq_len", "max_position_embeddings"});
  model.mlp = MlpKind::gelu;
  const bool no_bias = root.bool_or("no_bias", true);
  model.linear_bias = !no_bias;
  model.norm = no_bias ? NormKind::layernorm_no_bias : NormKind::layernorm;
  model.tied_embeddings = root.bool_or("tie_word_embeddings", true);
  model.dropout = root.double_or("resid_pdrop", 0.0) > 0.0;
  const auto attention = root.find("attn_config");
  if (attention && attention->bool_or("alibi", false)) {
    model.position = PositionKind::alibi;
  } else if (root.bool_or("learned_pos_emb", true)) {
    model.position = PositionKind::learned;
  } else {
    model.position = PositionKind::rotary;
  }
  // llm-foundry keeps kv_n_heads in every attn_config; only grouped-query attention uses it.
  const auto attention_type = attention ? attention->string_or("attn_type", "multihead_attention") : "multihead_attention";
  if (attention_type == "grouped_query_attention") {
    model.kv_heads = positive(*attention, "kv_n_heads");
  } else if (attention_type == "multiquery_attention") {
    model.kv_heads = 1;
  } else {
    model.kv_heads = model.heads;
  }
  if (model.hidden % model.heads != 0 || model.heads % model.kv_heads != 0) {
    root.fail(fmt::format("n_heads={} must divide d_model={} and be a multiple of kv_n_heads={}", model.heads,
                          model.hidden, model.kv_heads),
              "MPT's heads split the model width evenly");
  }
  model.head_dim = model.hidden / model.heads;
  return model;
}

ModelSpec read_megatron_gpt(const DocNode& root) {
  // Megatron-Core's GPTModel in config.json names (the Megatron-LM README's benchmark GPTs):
  // Megatron-LM's argument defaults where the file says nothing — LayerNorm, GeLU MLP of 4·h,
  // biases on every linear layer, learned absolute positions, dropout 0.1 — and the file's
  // sizes, key/value heads and embedding tying (Megatron unties only when asked).
  ModelSpec model = read_llama_like(root);
  model.norm = NormKind::layernorm;
  model.mlp = MlpKind::gelu;
  model.position = PositionKind::learned;
  model.linear_bias = root.bool_or("attention_bias", true);
  model.qkv_bias = false;
  model.dropout = true;
  model.tied_embeddings = root.bool_or("tie_word_embeddings", true);
  if (model.ffn == 0) {
    model.ffn = 4 * model.hidden;
  }
  if (const auto act = root.find("hidden_act"); act && !act->is_null() && act->as_string() != "gelu") {
    act->fail(fmt::format("hidden_act '{}' is not modelled for gpt", act->as_string()),
              "gelu or null: Megatron's GeLU MLP of two matrices");
  }
  if (model.max_positions == 0) {
    model.max_positions = positive(root, "max_position_embeddings"); // the learned table's rows
  }
  return model;
}

ModelSpec read_dbrx(const DocNode& root) {
  // Databricks DBRX: 16 GLU experts (top 4) in every layer, LayerNorm without bias, no linear
  // biases, GQA, rotary positions, untied embeddings.
  ModelSpec model;
  model.hidden = positive(root, "d_model");
  model.layers = positive(root, "n_layers");
  model.heads = positive(root, "n_heads");
  model.vocab = positive(root, "vocab_size");
  model.max_positions = positive_or(root, "max_seq_len", 0);
  model.norm = NormKind::layernorm_no_bias;
  model.tied_embeddings = root.bool_or("tie_word_embeddings", false);
  const auto attention = root.at("attn_config");
  model.kv_heads = positive_or(attention, "kv_n_heads", model.heads);
  if (model.hidden % model.heads != 0 || model.heads % model.kv_heads != 0) {
    root.at("n_heads").fail(fmt::format("n_heads={} must divide d_model={} and be a multiple of kv_n_heads={}",
                                        model.heads, model.hidden, model.kv_heads),
                            "DBRX's heads split the model width evenly");
  }
  model.head_dim = model.hidden / model.heads;
  const auto ffn = root.at("ffn_config");
  model.ffn = positive(ffn, "ffn_hidden_size");
  model.moe = read_experts(ffn, {"moe_num_experts"}, {"moe_top_k"}, model.ffn);
  return model;
}

void read_attention_windows(const DocNode& root, const std::string& type, ModelSpec& model) {
  const auto layers = static_cast<std::size_t>(model.layers);
  std::vector<i64> windows;
  auto window = [&] { return root.at("sliding_window").as_positive_int("sliding_window"); };
  if (const auto types = root.find("layer_types")) {
    const auto items = types->elements();
    if (items.size() != layers) {
      types->fail(fmt::format("layer_types lists {} layers, the model has {}", items.size(), model.layers),
                  "one entry per decoder layer");
    }
    for (const auto& item : items) {
      const auto kind = item.as_string();
      if (kind == "full_attention") {
        windows.push_back(0);
      } else if (kind == "sliding_attention") {
        windows.push_back(window());
      } else {
        item.fail(fmt::format("layer type '{}' is not modelled", kind), "full_attention or sliding_attention");
      }
    }
  } else if (!root.find("sliding_window")) {
    return;
  } else if (type == "mistral" || type == "mixtral") {
    windows.assign(layers, window());
  } else if (type == "qwen2" || type == "qwen2_moe" || type == "qwen3" || type == "qwen3_moe") {
    if (!root.bool_or("use_sliding_window", false)) {
      return;
    }
    const auto from = static_cast<std::size_t>(non_negative_or(root, "max_window_layers", 0));
    windows.assign(layers, 0);
    for (std::size_t layer = std::min(from, layers); layer < layers; ++layer) {
      windows[layer] = window();
    }
  } else if (type == "gpt_oss") {
    windows.assign(layers, 0);
    for (std::size_t layer = 0; layer < layers; layer += 2) {
      windows[layer] = window();
    }
  } else {
    return;
  }
  if (std::any_of(windows.begin(), windows.end(), [](i64 w) { return w > 0; })) {
    model.layer_window = std::move(windows);
  }
}

void read_expert_quantization(const DocNode& root, ModelSpec& model) {
  const auto config = root.find("quantization_config");
  if (!config || !model.moe) {
    return;
  }
  // OCP MX FP4 (E2M1) with one E8M0 scale per block of 32 values: 4 + 8/32 bits per weight.
  if (config->string_or("quant_method", "") == "mxfp4") {
    model.expert_weight_bits = 4.25;
  }
}

NearestFamily nearest_family(const DocNode& root, const std::string& type, const std::vector<std::string>& supported) {
  const auto suggestion = util::did_you_mean(type, supported);
  const bool standard = (root.has("hidden_size") || root.has("n_embd")) &&
                        (root.has("num_hidden_layers") || root.has("n_layer")) &&
                        (root.has("num_attention_heads") || root.has("n_head")) && root.has("vocab_size");
  if (!standard) {
    root.at("model_type")
        .fail(fmt::format("unsupported model_type '{}'{}", type, suggestion),
              fmt::format("one of {}, or a config with hidden_size, num_hidden_layers, num_attention_heads and "
                          "vocab_size, read as its nearest family",
                          fmt::join(supported, ", ")));
  }
  NearestFamily nearest;
  if (root.has("kv_lora_rank")) {
    nearest = root.has("n_routed_experts")
                  ? NearestFamily{"deepseek_v3", "a DeepSeek-V3-like MoE decoder (MLA attention, routed + shared experts)"}
                  : NearestFamily{"deepseek_v2", "a DeepSeek-V2-like decoder (MLA attention)"};
  } else if (root.has("num_local_experts")) {
    nearest = {"mixtral", "a Mixtral-like MoE decoder (RMSNorm, SwiGLU experts, rotary)"};
  } else if (root.has("num_experts") && root.has("moe_intermediate_size")) {
    nearest = root.has("shared_expert_intermediate_size")
                  ? NearestFamily{"qwen2_moe", "a Qwen2-MoE-like decoder (q/k/v biases, gated shared expert)"}
                  : NearestFamily{"qwen3_moe", "a Qwen3-MoE-like decoder (q/k norms, no shared expert)"};
  } else if (root.has("n_embd")) {
    nearest = {"gpt2", "a GPT-2-like decoder (LayerNorm, GeLU MLP, learned positions, biases)"};
  } else {
    nearest = {"llama", "a Llama-like dense decoder (RMSNorm, SwiGLU, rotary)"};
  }
  if (root.has("sliding_window") && !root.has("layer_types") && nearest.type != "mixtral") {
    nearest.description += "; its sliding_window is not applied (no layer_types say which layers use it)";
  }
  nearest.description = fmt::format("model_type '{}' is unknown{}: read as {}; give the file a supported model_type to "
                                    "read it otherwise ({})",
                                    type, suggestion, nearest.description, fmt::join(supported, ", "));
  return nearest;
}

} // namespace brix::model::hf
