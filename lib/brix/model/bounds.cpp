// Model size limits (bounds.hpp): one check after any reader, so a family added to the readers
// is bounded without touching them.
#include <brix/model/bounds.hpp>

#include <brix/util/strings.hpp>

#include <fmt/format.h>
#include <initializer_list>
#include <string_view>

namespace brix::model {

namespace {

using i64 = std::int64_t;

/// The node of the first of `keys` present in `root` (or in its `section`), else `root` itself:
/// where an error about that field points.
util::DocNode node_of(const util::DocNode& root, std::initializer_list<std::string_view> keys,
                      std::string_view section = {}) {
  const util::DocNode* scope = &root;
  std::optional<util::DocNode> inner;
  if (!section.empty()) {
    inner = root.find(section);
    if (inner && inner->is_map()) {
      scope = &*inner;
    }
  }
  for (const auto key : keys) {
    if (auto node = scope->find(key)) {
      return *node;
    }
  }
  return *scope;
}

void at_most(const util::DocNode& root, i64 value, i64 limit, std::string_view field,
             std::initializer_list<std::string_view> keys, std::string_view section = {}) {
  if (value > limit) {
    node_of(root, keys, section)
        .fail(fmt::format("{} {} is larger than any model brix can plan", field, util::with_thousands(value)),
              fmt::format("expected at most {}", util::with_thousands(limit)));
  }
}

/// Total parameters in floating point (no overflow whatever the fields): embeddings, and per
/// layer attention and the larger of the dense and the expert MLPs.
double parameter_estimate(const ModelSpec& model) {
  const double h = static_cast<double>(model.hidden);
  const double attention = 4.0 * h * static_cast<double>(model.heads) * static_cast<double>(model.head_dim);
  double mlp = 3.0 * h * static_cast<double>(model.ffn);
  if (model.moe) {
    const auto& moe = *model.moe;
    const double experts = static_cast<double>(moe.routed_experts) * static_cast<double>(moe.expert_ffn) +
                           static_cast<double>(moe.shared_ffn);
    mlp = std::max(mlp, 3.0 * h * experts);
  }
  if (model.mla) {
    const auto& m = *model.mla;
    const double heads = static_cast<double>(model.heads);
    mlp += h * static_cast<double>(m.q_lora_rank + m.kv_lora_rank) +
           static_cast<double>(std::max(m.q_lora_rank, m.kv_lora_rank)) * heads *
               static_cast<double>(m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim);
  }
  const double layers = static_cast<double>(model.layers + model.mtp_layers);
  return layers * (attention + mlp) + 2.0 * static_cast<double>(model.vocab) * h +
         static_cast<double>(model.max_positions) * h;
}

} // namespace

void check_model_bounds(const ModelSpec& model, const util::DocNode& root) {
  at_most(root, model.layers, k_max_layers, "layers", {"num_hidden_layers", "n_layer", "num_layers", "layers"});
  at_most(root, model.hidden, k_max_hidden, "hidden size", {"hidden_size", "n_embd", "n_embed", "d_model", "hidden"});
  at_most(root, model.heads, k_max_heads, "attention heads", {"num_attention_heads", "n_head", "heads"});
  at_most(root, model.head_dim, k_max_head_dim, "head size", {"head_dim", "qk_nope_head_dim", "hidden_size", "hidden"});
  at_most(root, model.ffn, k_max_ffn, "MLP size", {"intermediate_size", "ffn_dim", "n_inner", "ffn"});
  at_most(root, model.vocab, k_max_vocab, "vocabulary", {"vocab_size", "vocab"});
  at_most(root, model.max_positions, k_max_positions, "positions",
          {"max_position_embeddings", "n_positions", "n_ctx", "seq_length", "max_positions", "seq_len"});
  at_most(root, model.default_seq_len, k_max_positions, "sequence length", {"seq_len", "max_position_embeddings"});
  at_most(root, model.embedding_projection, k_max_hidden, "embedding projection", {"word_embed_proj_dim"});
  at_most(root, model.mtp_layers, k_max_mtp_layers, "multi-token-prediction layers",
          {"num_nextn_predict_layers", "mtp_layers"});
  if (model.mla) {
    const auto& m = *model.mla;
    for (const auto& [value, key] : {std::pair{m.q_lora_rank, "q_lora_rank"}, {m.kv_lora_rank, "kv_lora_rank"},
                                     {m.qk_nope_head_dim, "qk_nope_head_dim"},
                                     {m.qk_rope_head_dim, "qk_rope_head_dim"}, {m.v_head_dim, "v_head_dim"}}) {
      at_most(root, value, k_max_hidden, key, {key}, "mla");
    }
  }
  if (model.moe) {
    const auto& moe = *model.moe;
    at_most(root, moe.routed_experts, k_max_experts, "routed experts",
            {"n_routed_experts", "num_local_experts", "num_experts", "routed_experts"}, "moe");
    at_most(root, moe.expert_ffn, k_max_ffn, "expert MLP size", {"moe_intermediate_size", "expert_ffn"}, "moe");
    at_most(root, moe.shared_experts, k_max_experts, "shared experts", {"n_shared_experts", "shared_experts"}, "moe");
    at_most(root, moe.shared_ffn, k_max_ffn, "shared-expert MLP size",
            {"shared_expert_intermediate_size", "shared_ffn", "n_shared_experts"}, "moe");
    if (moe.experts_per_token > moe.routed_experts) {
      node_of(root, {"num_experts_per_tok", "experts_per_token"}, "moe")
          .fail(fmt::format("{} experts per token, but the model has {} routed experts",
                            moe.experts_per_token, moe.routed_experts),
                "expected at most the number of routed experts");
    }
    if (moe.first_dense_layers >= model.layers) {
      node_of(root, {"first_k_dense_replace", "mlp_only_layers", "first_dense_layers"}, "moe")
          .fail(fmt::format("{} leading dense layers leave no MoE layer of {}", moe.first_dense_layers, model.layers),
                "expected fewer dense layers than layers");
    }
  }
  if (const double parameters = parameter_estimate(model); parameters > k_max_parameters) {
    root.fail(fmt::format("these sizes make a model of ~{:.3g} parameters", parameters),
              fmt::format("expected at most {:.0e}; check the sizes for a typo", k_max_parameters));
  }
}

} // namespace brix::model
