#include <brix/model/model_file.hpp>

#include <brix/model/read_helpers.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <array>
#include <fmt/format.h>

namespace brix::model {

namespace {

using util::DocNode;
using i64 = std::int64_t;

const std::vector<std::string> k_model_keys{
    "brix_model",  "name",          "family",    "hidden",      "layers",     "heads",
    "kv_heads",    "head_dim",      "ffn",       "vocab",       "max_positions", "seq_len",
    "norm",        "mlp",           "position",  "tied_embeddings", "qkv_bias", "linear_bias",
    "dropout",     "embedding_norm", "qk_norm",  "mla",         "moe",        "mtp_layers"};
const std::vector<std::string> k_mla_keys{"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim",
                                          "qk_rope_head_dim", "v_head_dim"};
const std::vector<std::string> k_moe_keys{"routed_experts", "experts_per_token", "expert_ffn",
                                          "shared_experts", "shared_ffn", "first_dense_layers",
                                          "layer_frequency", "router_bias", "shared_expert_gate"};

template <typename Enum, std::size_t N>
Enum choice(const DocNode& node, std::string_view key,
            const std::array<std::pair<std::string_view, Enum>, N>& options) {
  const auto text = node.as_string();
  std::vector<std::string> names;
  for (const auto& [name, value] : options) {
    if (name == text) {
      return value;
    }
    names.emplace_back(name);
  }
  node.fail(fmt::format("unknown {} '{}'{}", key, text, util::did_you_mean(text, names)),
            fmt::format("one of {}", fmt::join(names, ", ")));
}

/// `family: gpt` is Megatron's GPT of the 2021–22 papers: LayerNorm, GeLU MLP of 4h, biases on
/// every linear layer, learned positions, tied embedding, dropout, vocabulary 51,200.
void apply_family_defaults(ModelSpec& model) {
  if (model.family == "gpt") {
    model.norm = NormKind::layernorm;
    model.mlp = MlpKind::gelu;
    model.position = PositionKind::learned;
    model.tied_embeddings = true;
    model.linear_bias = true;
    model.dropout = true;
    model.vocab = 51200;
    model.default_seq_len = 2048;
  }
}

MlaSpec read_mla(const DocNode& node) {
  node.require_known_keys(k_mla_keys, "mla");
  MlaSpec mla;
  mla.q_lora_rank = non_negative_or(node, "q_lora_rank", 0);
  mla.kv_lora_rank = node.at("kv_lora_rank").as_positive_int("kv_lora_rank");
  mla.qk_nope_head_dim = node.at("qk_nope_head_dim").as_positive_int("qk_nope_head_dim");
  mla.qk_rope_head_dim = node.at("qk_rope_head_dim").as_positive_int("qk_rope_head_dim");
  mla.v_head_dim = node.at("v_head_dim").as_positive_int("v_head_dim");
  return mla;
}

MoeSpec read_moe(const DocNode& node) {
  node.require_known_keys(k_moe_keys, "moe");
  MoeSpec moe;
  moe.routed_experts = node.at("routed_experts").as_positive_int("routed_experts");
  moe.experts_per_token = node.at("experts_per_token").as_positive_int("experts_per_token");
  moe.expert_ffn = node.at("expert_ffn").as_positive_int("expert_ffn");
  moe.shared_experts = non_negative_or(node, "shared_experts", 0);
  moe.shared_ffn = non_negative_or(node, "shared_ffn", moe.shared_experts * moe.expert_ffn);
  moe.first_dense_layers = non_negative_or(node, "first_dense_layers", 0);
  moe.layer_frequency = positive_or(node, "layer_frequency", 1);
  moe.router_bias = node.bool_or("router_bias", false);
  moe.shared_expert_gate = node.bool_or("shared_expert_gate", false);
  // Experts per token against experts, dense layers against layers: model/bounds.cpp, for
  // every format.
  return moe;
}

} // namespace

ModelSpec model_from_brix_yaml(const DocNode& root, const std::string& fallback_name) {
  root.require_known_keys(k_model_keys, "the model file");
  if (const auto version = root.find("brix_model"); version && version->as_int() != 1) {
    version->fail(fmt::format("brix_model: {} is not a known version", version->as_int()),
                  "expected 1");
  }
  ModelSpec model;
  model.name = root.string_or("name", fallback_name);
  model.family = "gpt";
  if (const auto family = root.find("family")) {
    // The family picks the defaults below; a misspelt one would silently pick Llama's.
    const std::vector<std::string> families{"gpt", "llama"};
    model.family = family->as_string();
    if (std::find(families.begin(), families.end(), model.family) == families.end()) {
      family->fail(fmt::format("unknown family '{}'{}", model.family, util::did_you_mean(model.family, families)),
                   "one of gpt (Megatron GPT defaults), llama (Llama-style defaults)");
    }
  }
  model.source = root.file();
  apply_family_defaults(model);

  model.hidden = root.at("hidden").as_positive_int("hidden");
  model.layers = root.at("layers").as_positive_int("layers");
  model.heads = root.at("heads").as_positive_int("heads");
  model.kv_heads = positive_or(root, "kv_heads", model.heads);
  if (model.heads % model.kv_heads != 0) {
    root.at("kv_heads").fail(fmt::format("kv_heads={} does not divide heads={}", model.kv_heads,
                                         model.heads),
                             "query heads are grouped evenly over key/value heads");
  }
  if (!root.has("head_dim") && model.hidden % model.heads != 0) {
    root.at("heads").fail(fmt::format("heads={} does not divide hidden={}", model.heads, model.hidden),
                          "give head_dim explicitly");
  }
  model.head_dim = positive_or(root, "head_dim", model.hidden / model.heads);
  model.ffn = positive_or(root, "ffn", 4 * model.hidden);
  model.vocab = positive_or(root, "vocab", model.vocab);
  if (model.vocab <= 0) {
    (void)root.at("vocab"); // the family has no default: report the missing key
  }
  model.default_seq_len = positive_or(root, "seq_len", model.default_seq_len);

  static constexpr std::array<std::pair<std::string_view, NormKind>, 2> norms{
      {{"layernorm", NormKind::layernorm}, {"rmsnorm", NormKind::rmsnorm}}};
  static constexpr std::array<std::pair<std::string_view, MlpKind>, 2> mlps{
      {{"gelu", MlpKind::gelu}, {"gated", MlpKind::gated}}};
  static constexpr std::array<std::pair<std::string_view, PositionKind>, 3> positions{
      {{"learned", PositionKind::learned}, {"rotary", PositionKind::rotary},
       {"alibi", PositionKind::alibi}}};
  if (const auto node = root.find("norm")) {
    model.norm = choice(*node, "norm", norms);
  }
  if (const auto node = root.find("mlp")) {
    model.mlp = choice(*node, "mlp", mlps);
  }
  if (const auto node = root.find("position")) {
    model.position = choice(*node, "position", positions);
  }
  // A learned table covers the training sequence unless the file says otherwise.
  const i64 default_positions = model.position == PositionKind::learned ? model.default_seq_len : 0;
  model.max_positions = positive_or(root, "max_positions", default_positions);
  model.tied_embeddings = root.bool_or("tied_embeddings", model.tied_embeddings);
  model.qkv_bias = root.bool_or("qkv_bias", model.qkv_bias);
  model.linear_bias = root.bool_or("linear_bias", model.linear_bias);
  model.dropout = root.bool_or("dropout", model.dropout);
  model.embedding_norm = root.bool_or("embedding_norm", model.embedding_norm);
  model.qk_norm = root.bool_or("qk_norm", model.qk_norm);
  if (const auto node = root.find("mla")) {
    model.mla = read_mla(*node);
    model.kv_heads = model.heads;
    model.head_dim = model.mla->qk_nope_head_dim + model.mla->qk_rope_head_dim;
  }
  if (const auto node = root.find("moe")) {
    model.moe = read_moe(*node);
  }
  model.mtp_layers = non_negative_or(root, "mtp_layers", 0);
  return model;
}

} // namespace brix::model
