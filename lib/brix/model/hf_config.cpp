#include <brix/model/hf_config.hpp>

#include <brix/model/hf_readers.hpp>
#include <brix/model/read_helpers.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cctype>
#include <fmt/format.h>

namespace brix::model {

namespace hf {

using util::DocNode;
using i64 = std::int64_t;

/// A required positive integer.
i64 positive(const DocNode& root, std::string_view key) {
  return root.at(key).as_positive_int(key);
}

/// The first key present among `keys` (HF families name the same size differently).
DocNode first_of(const DocNode& root, std::initializer_list<std::string_view> keys) {
  for (const auto key : keys) {
    if (const auto node = root.find(key)) {
      return *node;
    }
  }
  root.fail(fmt::format("missing key '{}'", *keys.begin()), "it is required for this model_type");
}

i64 positive_of(const DocNode& root, std::initializer_list<std::string_view> keys) {
  return first_of(root, keys).as_positive_int(*keys.begin());
}

bool has_dropout(const DocNode& root, std::initializer_list<std::string_view> keys) {
  for (const auto key : keys) {
    if (const auto node = root.find(key); node && node->as_double() > 0.0) {
      return true;
    }
  }
  return false;
}

/// Attention heads, key/value heads and head size shared by the decoder families.
void read_heads(const DocNode& root, ModelSpec& model) {
  model.kv_heads = positive_or(root, "num_key_value_heads", model.heads);
  if (model.heads % model.kv_heads != 0) {
    root.at("num_key_value_heads")
        .fail(fmt::format("num_key_value_heads={} does not divide num_attention_heads={}",
                          model.kv_heads, model.heads),
              "query heads are grouped evenly over key/value heads");
  }
  if (const auto head_dim = root.find("head_dim")) {
    model.head_dim = head_dim->as_positive_int("head_dim");
  } else if (model.hidden % model.heads != 0) {
    root.at("num_attention_heads")
        .fail(fmt::format("num_attention_heads={} does not divide hidden_size={}", model.heads,
                          model.hidden),
              "give head_dim explicitly");
  } else {
    model.head_dim = model.hidden / model.heads;
  }
}

/// Llama and its descendants: RMSNorm, SwiGLU, rotary positions, untied head by default.
ModelSpec read_llama_like(const DocNode& root) {
  ModelSpec model;
  model.hidden = positive(root, "hidden_size");
  model.layers = positive(root, "num_hidden_layers");
  model.heads = positive(root, "num_attention_heads");
  model.vocab = positive(root, "vocab_size");
  model.ffn = positive_or(root, "intermediate_size", 0);
  model.max_positions = positive_or(root, "max_position_embeddings", 0);
  model.tied_embeddings = root.bool_or("tie_word_embeddings", false);
  model.qkv_bias = root.bool_or("attention_bias", false);
  read_heads(root, model);
  return model;
}

} // namespace hf

namespace {

using namespace hf;

/// Which layers have experts: brix models "every layer from the first k on"; sparse steps and
/// arbitrary dense-layer lists are refused rather than miscounted.
void require_every_layer_moe(const DocNode& root, std::string_view key) {
  if (const auto node = root.find(key); node && node->as_int() != 1) {
    node->fail(fmt::format("{}={} is not supported", key, node->as_int()),
               "brix models MoE in every layer after the first dense ones; use 1");
  }
}

i64 leading_dense_layers(const DocNode& root, std::string_view key) {
  const auto node = root.find(key);
  if (!node) {
    return 0;
  }
  i64 expected = 0;
  for (const auto& item : node->elements()) {
    if (item.as_int() != expected) {
      node->fail(fmt::format("{} must list the first layers 0, 1, 2, ...", key),
                 "brix models dense layers only at the start");
    }
    ++expected;
  }
  return expected;
}

ModelSpec read_deepseek(const DocNode& root, bool v3) {
  ModelSpec model = read_llama_like(root);
  MlaSpec mla;
  mla.q_lora_rank = non_negative_or(root, "q_lora_rank", 0);
  mla.kv_lora_rank = positive(root, "kv_lora_rank");
  mla.qk_nope_head_dim = positive(root, "qk_nope_head_dim");
  mla.qk_rope_head_dim = positive(root, "qk_rope_head_dim");
  mla.v_head_dim = positive(root, "v_head_dim");
  model.mla = mla;
  model.kv_heads = model.heads; // MLA: every head has its own (decompressed) key and value
  model.head_dim = mla.qk_nope_head_dim + mla.qk_rope_head_dim;
  if (const auto experts = root.find("n_routed_experts")) {
    MoeSpec moe;
    moe.routed_experts = experts->as_positive_int("n_routed_experts");
    moe.experts_per_token = positive(root, "num_experts_per_tok");
    moe.expert_ffn = positive(root, "moe_intermediate_size");
    moe.shared_experts = non_negative_or(root, "n_shared_experts", 0);
    moe.shared_ffn = moe.shared_experts * moe.expert_ffn;
    moe.first_dense_layers = non_negative_or(root, "first_k_dense_replace", 0);
    require_every_layer_moe(root, "moe_layer_freq");
    moe.router_bias = v3; // noaux_tc: per-expert score-correction bias
    // Group-limited routing: topk_group of n_group expert groups per token.
    moe.routing_groups = positive_or(root, "n_group", 1);
    moe.groups_per_token = positive_or(root, "topk_group", moe.routing_groups);
    if (moe.routed_experts % moe.routing_groups != 0 || moe.groups_per_token > moe.routing_groups) {
      root.at("n_group").fail(fmt::format("n_group={} with topk_group={} and {} experts", moe.routing_groups,
                                          moe.groups_per_token, moe.routed_experts),
                              "n_group dividing the routed experts and topk_group <= n_group");
    }
    model.moe = moe;
  }
  if (v3) {
    model.mtp_layers = non_negative_or(root, "num_nextn_predict_layers", 0);
  }
  return model;
}

ModelSpec read_moe_qwen(const DocNode& root, bool shared) {
  ModelSpec model = read_llama_like(root);
  MoeSpec moe;
  moe.routed_experts = positive(root, "num_experts");
  moe.experts_per_token = positive(root, "num_experts_per_tok");
  moe.expert_ffn = positive(root, "moe_intermediate_size");
  if (shared) {
    moe.shared_ffn = non_negative_or(root, "shared_expert_intermediate_size", 0);
    moe.shared_experts = moe.shared_ffn > 0 ? 1 : 0;
    moe.shared_expert_gate = moe.shared_ffn > 0;
  }
  require_every_layer_moe(root, "decoder_sparse_step");
  moe.first_dense_layers = leading_dense_layers(root, "mlp_only_layers");
  model.moe = moe;
  return model;
}

/// Classic dense GPTs: LayerNorm, two-matrix MLP, biases everywhere.
ModelSpec classic_gpt() {
  ModelSpec model;
  model.norm = NormKind::layernorm;
  model.mlp = MlpKind::gelu;
  model.linear_bias = true;
  model.tied_embeddings = true;
  return model;
}

ModelSpec read_gpt2(const DocNode& root) {
  ModelSpec model = classic_gpt();
  model.hidden = positive_of(root, {"n_embd", "hidden_size"});
  model.layers = positive_of(root, {"n_layer", "num_hidden_layers"});
  model.heads = positive_of(root, {"n_head", "num_attention_heads"});
  model.vocab = positive(root, "vocab_size");
  model.max_positions = positive_of(root, {"n_positions", "n_ctx", "max_position_embeddings"});
  model.ffn = positive_or(root, "n_inner", 4 * model.hidden);
  model.position = PositionKind::learned;
  model.tied_embeddings = root.bool_or("tie_word_embeddings", true);
  model.dropout = !root.has("resid_pdrop") || has_dropout(root, {"resid_pdrop"});
  read_heads(root, model);
  return model;
}

ModelSpec read_gpt_neox(const DocNode& root) {
  ModelSpec model = classic_gpt();
  model.hidden = positive(root, "hidden_size");
  model.layers = positive(root, "num_hidden_layers");
  model.heads = positive(root, "num_attention_heads");
  model.vocab = positive(root, "vocab_size");
  model.ffn = positive_or(root, "intermediate_size", 4 * model.hidden);
  model.max_positions = positive_or(root, "max_position_embeddings", 0);
  model.position = PositionKind::rotary;
  model.tied_embeddings = root.bool_or("tie_word_embeddings", false);
  model.linear_bias = root.bool_or("attention_bias", true);
  model.dropout = has_dropout(root, {"hidden_dropout"});
  read_heads(root, model);
  return model;
}

ModelSpec read_opt(const DocNode& root) {
  ModelSpec model = classic_gpt();
  model.hidden = positive(root, "hidden_size");
  model.layers = positive(root, "num_hidden_layers");
  model.heads = positive(root, "num_attention_heads");
  model.vocab = positive(root, "vocab_size");
  model.ffn = positive(root, "ffn_dim");
  // OPT's learned position table has 2 extra rows (positions are offset by 2).
  model.max_positions = positive(root, "max_position_embeddings") + 2;
  model.position = PositionKind::learned;
  model.tied_embeddings = root.bool_or("tie_word_embeddings", true);
  model.linear_bias = root.bool_or("enable_bias", true);
  model.dropout = !root.has("dropout") || has_dropout(root, {"dropout"});
  const i64 projection = positive_or(root, "word_embed_proj_dim", model.hidden);
  model.embedding_projection = projection != model.hidden ? projection : 0;
  read_heads(root, model);
  return model;
}

ModelSpec read_bloom(const DocNode& root) {
  ModelSpec model = classic_gpt();
  model.hidden = positive_of(root, {"hidden_size", "n_embed"});
  model.layers = positive_of(root, {"n_layer", "num_hidden_layers"});
  model.heads = positive_of(root, {"n_head", "num_attention_heads"});
  model.vocab = positive(root, "vocab_size");
  model.ffn = 4 * model.hidden;
  model.position = PositionKind::alibi;
  model.embedding_norm = true;
  model.tied_embeddings = root.bool_or("tie_word_embeddings", true);
  model.dropout = has_dropout(root, {"hidden_dropout"});
  model.max_positions = positive_or(root, "seq_length", 2048);
  read_heads(root, model);
  return model;
}

/// The checkpoint's weight format from `quantization_config` (vLLM and SGLang read the same key):
/// quant_method fp8 → "fp8"; mxfp4, or modelopt with an FP4 quant_algo → "fp4"; modelopt FP8 →
/// "fp8"; no quantization → "bf16". Other methods (int4 AWQ/GPTQ, ...) are refused rather than
/// planned with the wrong weight bytes.
std::string checkpoint_weights(const DocNode& root) {
  const auto config = root.find("quantization_config");
  if (!config) {
    return "bf16";
  }
  const auto method_node = config->at("quant_method");
  const auto method = util::to_lower(method_node.as_string());
  const auto algo = util::to_lower(config->string_or("quant_algo", ""));
  if (method == "fp8" || (method == "modelopt" && algo.find("fp8") != std::string::npos)) {
    return "fp8";
  }
  if (method == "mxfp4" || (method == "modelopt" && algo.find("fp4") != std::string::npos)) {
    return "fp4";
  }
  method_node.fail(fmt::format("quantization method '{}' is not supported", method),
                   "fp8, mxfp4 or modelopt FP8/NVFP4 checkpoints; leave quantization_config out for 16-bit weights");
}

} // namespace

std::vector<std::string> hf_model_types() {
  return {"llama",    "mistral",     "mixtral",     "qwen2", "qwen2_moe", "qwen3",  "qwen3_moe", "deepseek_v2",
          "deepseek_v3", "kimi_k2",  "gpt2",        "gpt_neox", "opt",    "bloom",  "grok-1",    "gpt_oss",
          "nemotron", "mpt",         "dbrx",        "gpt"};
}

namespace {

/// The reader of a supported model_type.
ModelSpec read_family(const DocNode& root, const std::string& type) {
  ModelSpec model;
  if (type == "llama" || type == "mistral" || type == "qwen2" || type == "qwen3") {
    model = read_llama_like(root);
    model.qkv_bias = model.qkv_bias || type == "qwen2"; // Qwen2 always has q/k/v biases
    model.qk_norm = type == "qwen3";
    if (model.ffn <= 0) {
      root.fail("missing key 'intermediate_size'", "it is required for this model_type");
    }
  } else if (type == "mixtral") {
    model = read_llama_like(root);
    MoeSpec moe;
    moe.routed_experts = positive(root, "num_local_experts");
    moe.experts_per_token = positive(root, "num_experts_per_tok");
    moe.expert_ffn = positive(root, "intermediate_size");
    model.moe = moe;
  } else if (type == "qwen2_moe" || type == "qwen3_moe") {
    model = read_moe_qwen(root, type == "qwen2_moe");
    model.qkv_bias = model.qkv_bias || type == "qwen2_moe";
    model.qk_norm = type == "qwen3_moe";
  } else if (type == "deepseek_v2" || type == "deepseek_v3" || type == "kimi_k2") {
    // Kimi K2 is the DeepSeek-V3 architecture (DeepseekV3ForCausalLM) under its own model_type.
    model = read_deepseek(root, type != "deepseek_v2");
  } else if (type == "gpt2") {
    model = read_gpt2(root);
  } else if (type == "gpt_neox") {
    model = read_gpt_neox(root);
  } else if (type == "opt") {
    model = read_opt(root);
  } else if (type == "bloom") {
    model = read_bloom(root);
  } else if (type == "grok-1") {
    model = read_grok1(root);
  } else if (type == "gpt_oss") {
    model = read_gpt_oss(root);
  } else if (type == "nemotron") {
    model = read_nemotron(root);
  } else if (type == "mpt") {
    model = read_mpt(root);
  } else if (type == "dbrx") {
    model = read_dbrx(root);
  } else if (type == "gpt") {
    model = read_megatron_gpt(root);
  }
  read_attention_windows(root, type, model);
  read_expert_quantization(root, model);
  return model;
}

} // namespace

ModelSpec model_from_hf_config(const DocNode& root, const std::string& name) {
  const DocNode type_node = root.at("model_type");
  const std::string type = type_node.as_string();
  // An unknown model_type is read as its nearest family (below); one that names no architecture
  // at all (a number, an empty string, punctuation) is a broken file, not a new family.
  const bool name_like = !type.empty() && std::isalpha(static_cast<unsigned char>(type.front())) &&
                         std::all_of(type.begin(), type.end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
                         });
  if (!name_like) {
    type_node.fail(fmt::format("model_type '{}' names no architecture", util::printable(type)),
                   "expected a Hugging Face model_type such as llama or deepseek_v3");
  }
  const auto types = hf_model_types();
  ModelSpec model;
  if (std::find(types.begin(), types.end(), type) != types.end()) {
    model = read_family(root, type);
  } else {
    // Not refused: read as the family it resembles, and say so.
    const auto nearest = nearest_family(root, type, types);
    model = read_family(root, nearest.type);
    model.assumption = nearest.description;
  }
  model.checkpoint_weights = checkpoint_weights(root);
  const auto quantization = root.find("quantization_config");
  model.checkpoint_mxfp4 = quantization && util::to_lower(quantization->string_or("quant_method", "")) == "mxfp4";
  if (const auto rope = root.find("rope_scaling"); rope && rope->is_map()) {
    model.rope_scaling.type = util::to_lower(rope->string_or("rope_type", rope->string_or("type", "")));
    if (const auto factor = rope->find("factor")) {
      model.rope_scaling.factor = factor->as_positive_double("rope_scaling.factor");
    }
    if (const auto original = rope->find("original_max_position_embeddings")) {
      model.rope_scaling.original = original->as_positive_int("original_max_position_embeddings");
    }
  }
  model.family = type;
  model.name = name;
  model.source = root.file();
  if (model.max_positions > 0 && model.max_positions < model.default_seq_len) {
    model.default_seq_len = model.max_positions;
  }
  return model;
}

} // namespace brix::model
