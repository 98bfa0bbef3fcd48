#include <brix/model/params.hpp>

#include <algorithm>

namespace brix::model {

namespace {

using i64 = std::int64_t;

/// A norm over `width` features: LayerNorm has a weight and a bias, RMSNorm (and a LayerNorm
/// without bias) a weight.
i64 norm_params(const ModelSpec& model, i64 width) {
  return model.norm == NormKind::layernorm ? 2 * width : width;
}

/// An MLP of intermediate size `ffn` on hidden size h, with biases when the model has them.
i64 mlp_params(const ModelSpec& model, i64 ffn) {
  const i64 h = model.hidden;
  if (model.mlp == MlpKind::gated) {
    return 3 * h * ffn + (model.linear_bias ? 2 * ffn + h : 0);
  }
  return 2 * h * ffn + (model.linear_bias ? ffn + h : 0);
}

/// Weight matrices of the attention block (the GEMM parameters).
i64 attention_weights(const ModelSpec& model) {
  const i64 h = model.hidden;
  const i64 a = model.heads;
  if (model.mla) {
    // DeepSeek-V2/V3: q = W_qb · norm(W_qa · x) (or W_q · x), [kv_latent, k_rope] = W_kva · x,
    // [k_nope, v] = W_kvb · norm(kv_latent), out = W_o · attn.
    const auto& m = *model.mla;
    const i64 qk = m.qk_nope_head_dim + m.qk_rope_head_dim;
    const i64 q = m.q_lora_rank > 0 ? h * m.q_lora_rank + m.q_lora_rank * a * qk : h * a * qk;
    const i64 kv_down = h * (m.kv_lora_rank + m.qk_rope_head_dim);
    const i64 kv_up = m.kv_lora_rank * a * (m.qk_nope_head_dim + m.v_head_dim);
    return q + kv_down + kv_up + a * m.v_head_dim * h;
  }
  const i64 d = model.head_dim;
  return h * a * d + 2 * h * model.kv_heads * d + a * d * h;
}

/// The largest attention matrix: fused q/k/v and the output projection, MLA's up-projections.
i64 largest_attention_matrix(const ModelSpec& model) {
  const i64 h = model.hidden;
  const i64 a = model.heads;
  if (model.mla) {
    const auto& m = *model.mla;
    const i64 qk = m.qk_nope_head_dim + m.qk_rope_head_dim;
    const i64 q = m.q_lora_rank > 0 ? std::max(h * m.q_lora_rank, m.q_lora_rank * a * qk) : h * a * qk;
    return std::max({q, h * (m.kv_lora_rank + m.qk_rope_head_dim),
                     m.kv_lora_rank * a * (m.qk_nope_head_dim + m.v_head_dim), a * m.v_head_dim * h});
  }
  return std::max(h * (a + 2 * model.kv_heads) * model.head_dim, a * model.head_dim * h);
}

/// fc1 (gate and up fused for gated MLPs) is the larger MLP matrix.
i64 largest_mlp_matrix(const ModelSpec& model, i64 ffn) {
  return (model.mlp == MlpKind::gated ? 2 : 1) * model.hidden * ffn;
}

i64 attention_biases(const ModelSpec& model) {
  i64 bias = 0;
  if (!model.mla && (model.linear_bias || model.qkv_bias)) {
    bias += (model.heads + 2 * model.kv_heads) * model.head_dim;
  }
  if (model.linear_bias) {
    bias += model.hidden; // output projection
  }
  return bias;
}

i64 layer_norm_params(const ModelSpec& model) {
  i64 norms = (model.post_norms ? 4 : 2) * norm_params(model, model.hidden);
  if (model.mla) {
    // MLA's latent norms are RMSNorms over the compressed q and kv.
    norms += model.mla->q_lora_rank + model.mla->kv_lora_rank;
  }
  if (model.qk_norm) {
    norms += 2 * model.head_dim;
  }
  return norms;
}

i64 shared_expert_params(const ModelSpec& model) {
  const auto& moe = *model.moe;
  i64 shared = moe.shared_ffn > 0 ? mlp_params(model, moe.shared_ffn) : 0;
  if (moe.shared_expert_gate) {
    shared += model.hidden;
  }
  return shared;
}

} // namespace

std::int64_t qk_head_dim(const ModelSpec& model) {
  return model.mla ? model.mla->qk_nope_head_dim + model.mla->qk_rope_head_dim : model.head_dim;
}

std::int64_t v_head_dim(const ModelSpec& model) {
  return model.mla ? model.mla->v_head_dim : model.head_dim;
}

std::int64_t moe_layers_in(const ModelSpec& model, std::int64_t first, std::int64_t last) {
  if (!model.moe || first > last) {
    return 0;
  }
  const i64 dense = model.moe->first_dense_layers;
  const i64 every = std::max<i64>(1, model.moe->layer_frequency);
  const i64 low = std::max(first, dense);
  if (low > last) {
    return 0;
  }
  const i64 first_moe = low + (every - (low - dense) % every) % every;
  return first_moe > last ? 0 : (last - first_moe) / every + 1;
}

LayerParams layer_parameters(const ModelSpec& model, std::int64_t layer) {
  return layer_parameters_of_kind(model, model.is_moe_layer(layer));
}

LayerParams layer_parameters_of_kind(const ModelSpec& model, bool moe_layer) {
  LayerParams params;
  params.attention = attention_weights(model) + attention_biases(model) + (model.attention_sinks ? model.heads : 0);
  params.norms = layer_norm_params(model);
  if (moe_layer && model.moe) {
    const auto& moe = *model.moe;
    params.expert_one = mlp_params(model, moe.expert_ffn);
    params.experts = moe.routed_experts * params.expert_one;
    params.mlp_dense = shared_expert_params(model);
    params.router = model.hidden * moe.routed_experts + (moe.router_bias ? moe.routed_experts : 0);
    params.largest_matrix = std::max(largest_mlp_matrix(model, moe.expert_ffn),
                                     largest_mlp_matrix(model, moe.shared_ffn));
  } else {
    params.mlp_dense = mlp_params(model, model.ffn);
    params.largest_matrix = largest_mlp_matrix(model, model.ffn);
  }
  params.largest_matrix = std::max(params.largest_matrix, largest_attention_matrix(model));
  return params;
}

std::int64_t mtp_module_parameters(const ModelSpec& model) {
  if (model.mtp_layers <= 0) {
    return 0;
  }
  // DeepSeek-V3 §2.2: per module, RMSNorm of the hidden state and of the next token's embedding
  // (enorm, hnorm), a projection [2h → h] (eh_proj), one decoder layer like the last one and the
  // norm before the shared head. Embedding and output head are shared with the main model.
  const i64 h = model.hidden;
  const i64 one = 3 * norm_params(model, h) + 2 * h * h + layer_parameters(model, model.layers - 1).total();
  return model.mtp_layers * one;
}

ParameterCounts count_parameters(const ModelSpec& model) {
  ParameterCounts counts;
  const i64 h = model.hidden;
  const i64 embed_width = model.embedding_projection > 0 ? model.embedding_projection : h;
  counts.embedding = model.vocab * embed_width;
  if (model.embedding_projection > 0) {
    counts.embedding += embed_width * h; // project_in (OPT-350M)
  }
  if (model.position == PositionKind::learned) {
    counts.position_embedding = model.max_positions * h;
  }
  counts.output_head = model.tied_embeddings ? 0 : model.vocab * embed_width;
  if (model.embedding_projection > 0) {
    counts.output_head += h * embed_width; // project_out
  }
  counts.norms = norm_params(model, h) + (model.embedding_norm ? norm_params(model, h) : 0);
  i64 active_experts = 0;
  for (i64 layer = 0; layer < model.layers; ++layer) {
    const auto params = layer_parameters(model, layer);
    counts.attention += params.attention;
    counts.norms += params.norms;
    counts.router += params.router;
    if (model.is_moe_layer(layer)) {
      counts.shared_experts += params.mlp_dense;
      counts.routed_experts += params.experts;
      active_experts += model.moe->experts_per_token * params.expert_one;
    } else {
      counts.dense_mlp += params.mlp_dense;
    }
  }
  counts.mtp = mtp_module_parameters(model);
  counts.total = counts.embedding + counts.position_embedding + counts.attention +
                 counts.dense_mlp + counts.routed_experts + counts.shared_experts + counts.router +
                 counts.norms + counts.output_head;
  counts.active = counts.total - counts.routed_experts + active_experts;
  return counts;
}

double layer_gemm_flops(const ModelSpec& model, std::int64_t layer) {
  // Biases and norms are not GEMMs; the router is (h × E).
  const double h = static_cast<double>(model.hidden);
  auto biasless_mlp = [&](std::int64_t ffn) {
    const double f = static_cast<double>(ffn);
    return (model.mlp == MlpKind::gated ? 3.0 : 2.0) * h * f;
  };
  double gemm = static_cast<double>(attention_weights(model));
  if (model.is_moe_layer(layer)) {
    const auto& moe = *model.moe;
    gemm += static_cast<double>(moe.experts_per_token) * biasless_mlp(moe.expert_ffn);
    gemm += moe.shared_ffn > 0 ? biasless_mlp(moe.shared_ffn) : 0.0;
    gemm += h * static_cast<double>(moe.routed_experts);
  } else {
    gemm += biasless_mlp(model.ffn);
  }
  return 2.0 * gemm;
}

double attention_core_flops(const ModelSpec& model, std::int64_t seq_len) {
  // Scores q·kᵀ: 2·s·a·d_qk; attention·v: 2·s·a·d_v (per token, every query head).
  const double s = static_cast<double>(seq_len);
  const double a = static_cast<double>(model.heads);
  return 2.0 * s * a * static_cast<double>(qk_head_dim(model) + v_head_dim(model));
}

std::int64_t attended_keys(const ModelSpec& model, std::int64_t layer, std::int64_t seq_len) {
  const i64 window = model.attention_window(layer);
  return window > 0 ? std::min(window, seq_len) : seq_len;
}

double causal_attended_keys(double window, double seq) {
  if (seq <= 0) {
    return 0.0;
  }
  const double keys = window > 0 ? std::min(window, seq) : seq;
  return keys * (1.0 - keys / (2.0 * seq));
}

double attention_core_flops(const ModelSpec& model, std::int64_t seq_len, std::int64_t layer) {
  return attention_core_flops(model, attended_keys(model, layer, seq_len));
}

std::int64_t sliding_layers_in(const ModelSpec& model, std::int64_t first, std::int64_t last) {
  i64 count = 0;
  for (i64 layer = std::max<i64>(first, 0); layer <= last && layer < model.layers; ++layer) {
    count += model.attention_window(layer) > 0 ? 1 : 0;
  }
  return count;
}

FlopsPerToken flops_per_token(const ModelSpec& model, std::int64_t seq_len) {
  FlopsPerToken flops;
  const double h = static_cast<double>(model.hidden);
  const double embed_width =
      static_cast<double>(model.embedding_projection > 0 ? model.embedding_projection : model.hidden);
  flops.attention_core_per_layer = attention_core_flops(model, seq_len);
  double gemm = 0;
  for (std::int64_t layer = 0; layer < model.layers; ++layer) {
    const double layer_flops = layer_gemm_flops(model, layer);
    gemm += layer_flops;
    (model.is_moe_layer(layer) ? flops.moe_layer_gemm : flops.dense_layer_gemm) = layer_flops;
  }
  // Full-attention layers see the whole sequence; sliding-window layers their window.
  flops.attention_core = flops.attention_core_per_layer *
                         static_cast<double>(model.layers - sliding_layers_in(model, 0, model.layers - 1));
  for (std::int64_t layer = 0; layer < model.layers; ++layer) {
    if (model.attention_window(layer) > 0) {
      flops.attention_core += attention_core_flops(model, seq_len, layer);
    }
  }
  flops.logits = 2.0 * static_cast<double>(model.vocab) * embed_width;
  if (model.embedding_projection > 0) {
    gemm += 2.0 * 2.0 * h * embed_width; // OPT's project_in/out
  }
  flops.forward = gemm + flops.attention_core + flops.logits;
  flops.training = 3.0 * flops.forward;
  flops.training_published = 3.0 * (gemm + flops.attention_core) + 4.5 * static_cast<double>(model.vocab) * embed_width;
  if (model.mtp_layers > 0) {
    const double one = 2.0 * 2.0 * h * h + layer_gemm_flops(model, model.layers - 1) +
                       flops.attention_core_per_layer + flops.logits;
    flops.mtp_forward = static_cast<double>(model.mtp_layers) * one;
  }
  return flops;
}

std::int64_t kv_cache_bytes_per_token(const ModelSpec& model, int bytes_per_elem, std::int64_t seq_len) {
  const i64 per_layer = model.mla ? model.mla->kv_lora_rank + model.mla->qk_rope_head_dim
                                  : 2 * model.kv_heads * model.head_dim;
  if (model.layer_window.empty() || seq_len <= 0) {
    return per_layer * model.layers * bytes_per_elem;
  }
  // A sliding-window layer keeps the last min(window, s) tokens: averaged over the s tokens.
  i64 cached_tokens = 0;
  for (i64 layer = 0; layer < model.layers; ++layer) {
    cached_tokens += attended_keys(model, layer, seq_len);
  }
  return (per_layer * bytes_per_elem * cached_tokens + seq_len / 2) / seq_len;
}

double stored_weight_bytes(const ModelSpec& model) {
  const auto counts = count_parameters(model);
  return 2.0 * static_cast<double>(counts.total - counts.routed_experts) +
         model.expert_weight_bits / 8.0 * static_cast<double>(counts.routed_experts);
}

} // namespace brix::model
