// Serving memory: weights per GPU by layout, KV bytes per token, and the engines' KV pools.
#include <brix/serve/memory.hpp>

#include <brix/model/params.hpp>

#include <algorithm>
#include <cmath>

namespace brix::serve {

namespace {

using i64 = std::int64_t;

/// Per-GPU memory besides weights, KV and activations: aiconfigurator's model of the same engines
/// (systems/h200_sxm.yaml: other_mem 3.5 GB for CUDA context, CUDA graphs, workspaces and
/// allocator slack; nccl_mem 392 MB for TP 4/8 communicators, also used for all-to-all groups).
constexpr double k_other_bytes = 3.5e9;
constexpr double k_nccl_bytes = 0.392e9;
constexpr double k_bf16 = 2.0;

/// Layers of pipeline stage `stage` of `stages` (first stages take the remainder).
std::pair<i64, i64> stage_layers(i64 layers, int stages, int stage) {
  const i64 base = layers / stages;
  const i64 extra = layers % stages;
  const i64 first = stage * base + std::min<i64>(stage, extra);
  const i64 count = base + (stage < extra ? 1 : 0);
  return {first, first + count - 1};
}

} // namespace

double attention_params_per_gpu(const model::ModelSpec& model, int tp) {
  const double h = static_cast<double>(model.hidden);
  const auto params = model::layer_parameters_of_kind(model, false);
  const double total = static_cast<double>(params.attention);
  if (model.mla) {
    const auto& m = *model.mla;
    // q_a and kv_a (the down-projections) are replicated on every TP rank; q_b, kv_b and o split.
    const double replicated = (m.q_lora_rank > 0 ? h * static_cast<double>(m.q_lora_rank) : 0.0) +
                              h * static_cast<double>(m.kv_lora_rank + m.qk_rope_head_dim);
    return replicated + (total - replicated) / tp;
  }
  const double d = static_cast<double>(model.head_dim);
  const double kv = 2.0 * h * static_cast<double>(model.kv_heads) * d;
  // K/V heads split over TP until each rank has one; beyond that they are replicated.
  const double kv_share = static_cast<double>(std::min<i64>(tp, model.kv_heads));
  return (total - kv) / tp + kv / kv_share;
}

WeightPrecision attention_weight_precision(const model::ModelSpec& model, WeightPrecision precision) {
  if (precision != WeightPrecision::fp4) {
    return precision;
  }
  return model.checkpoint_mxfp4 ? WeightPrecision::bf16 : WeightPrecision::fp8;
}

double expert_bytes_per_gpu(const model::ModelSpec& model, const InstanceShape& shape, WeightPrecision precision) {
  if (!model.moe) {
    return 0.0;
  }
  const auto moe = model::layer_parameters_of_kind(model, true);
  const double local_experts = std::ceil(static_cast<double>(model.moe->routed_experts) / shape.ep);
  return local_experts * static_cast<double>(moe.expert_one) / shape.etp * weight_bytes(precision);
}

bool offloaded_layer(const model::ModelSpec& model, std::int64_t layer, int offload) {
  return offload > 0 && model.is_moe_layer(layer) && layer % offload == offload - 1;
}

std::int64_t offloaded_layers_in(const model::ModelSpec& model, std::int64_t first, std::int64_t last, int offload) {
  std::int64_t offloaded = 0;
  for (std::int64_t layer = first; layer <= last; ++layer) {
    offloaded += offloaded_layer(model, layer, offload) ? 1 : 0;
  }
  return offloaded;
}

double weight_bytes_per_gpu(const model::ModelSpec& model, const InstanceShape& shape, WeightPrecision precision,
                            bool mtp_module, int offload) {
  const double linear = weight_bytes(precision);
  const double attention_bytes = weight_bytes(attention_weight_precision(model, precision));
  const auto dense = model::layer_parameters_of_kind(model, false);
  const auto moe = model::layer_parameters_of_kind(model, true);
  const double attention = attention_params_per_gpu(model, shape.tp) * attention_bytes;
  const double norms = static_cast<double>(dense.norms) * k_bf16;
  const double dense_layer = attention + norms + static_cast<double>(dense.mlp_dense) / shape.tp * linear;
  const double experts = expert_bytes_per_gpu(model, shape, precision);
  double moe_layer = 0.0;
  if (model.moe) {
    moe_layer = attention + norms + experts + static_cast<double>(moe.mlp_dense) / shape.tp * linear +
                static_cast<double>(moe.router) * k_bf16;
  }
  const auto counts = model::count_parameters(model);
  const double embedding = static_cast<double>(counts.embedding + counts.position_embedding) / shape.tp * k_bf16;
  const double head = static_cast<double>(counts.output_head) / shape.tp * k_bf16 +
                      static_cast<double>(model.hidden) * k_bf16;
  double fullest = 0.0;
  for (int stage = 0; stage < shape.pp; ++stage) {
    const auto [first, last] = stage_layers(model.layers, shape.pp, stage);
    const i64 moe_layers = model::moe_layers_in(model, first, last);
    const i64 dense_layers = last - first + 1 - moe_layers;
    double bytes = static_cast<double>(moe_layers) * moe_layer + static_cast<double>(dense_layers) * dense_layer;
    // Offloaded experts leave the GPU but for one staging copy: with prefetch step 1 the next
    // offloaded layer is copied in after the previous one has run, into the buffer it freed.
    const i64 offloaded = offloaded_layers_in(model, first, last, offload);
    if (offloaded > 0) {
      bytes -= static_cast<double>(offloaded - 1) * experts;
    }
    if (stage == 0) {
      bytes += embedding;
    }
    if (stage == shape.pp - 1) {
      bytes += head;
      if (mtp_module && model.mtp_layers > 0) {
        // One decoder layer like the last one plus eh_proj [2h → h] and its norms (DeepSeek-V3 §2.2).
        const double h = static_cast<double>(model.hidden);
        bytes += static_cast<double>(model.mtp_layers) *
                 ((model.is_moe_layer(model.layers - 1) ? moe_layer : dense_layer) + 2.0 * h * h / shape.tp * linear);
      }
    }
    fullest = std::max(fullest, bytes);
  }
  return fullest;
}

/// Sliding-window layers (gpt-oss) hold only their window of each sequence: the pool is sized
/// per token as for sequences this long (a 128K context), where those layers add almost nothing.
/// Models without windows do not depend on it.
constexpr std::int64_t k_kv_context_tokens = 131072;

double kv_bytes_per_token_per_gpu(const model::ModelSpec& model, const InstanceShape& shape, KvPrecision precision,
                                  bool windows_pooled_full) {
  const auto [first, last] = stage_layers(model.layers, shape.pp, 0); // stage 0 has the most layers
  const double layers = static_cast<double>(last - first + 1);
  if (windows_pooled_full) {
    return kv_bytes_per_token_per_layer(model, shape.tp, precision) * layers;
  }
  const double per_layer = static_cast<double>(model::kv_cache_bytes_per_token(model, 1, k_kv_context_tokens)) /
                           static_cast<double>(model.layers) * kv_bytes(precision);
  if (model.mla) {
    return per_layer * layers;
  }
  return per_layer * layers / static_cast<double>(std::min<i64>(shape.tp, model.kv_heads));
}

double kv_bytes_per_token_per_layer(const model::ModelSpec& model, int tp, KvPrecision precision) {
  if (model.mla) {
    return static_cast<double>(model.mla->kv_lora_rank + model.mla->qk_rope_head_dim) * kv_bytes(precision);
  }
  return 2.0 * static_cast<double>(model.kv_heads * model.head_dim) * kv_bytes(precision) /
         static_cast<double>(std::min<i64>(tp, model.kv_heads));
}

double kv_bytes_per_token_model(const model::ModelSpec& model, KvPrecision precision) {
  return static_cast<double>(model::kv_cache_bytes_per_token(model, 1, k_kv_context_tokens)) * kv_bytes(precision);
}

double activation_bytes(const model::ModelSpec& model, const InstanceShape& shape, std::int64_t batched_tokens,
                        std::int64_t max_sequences) {
  const double tokens = static_cast<double>(batched_tokens);
  const double h = static_cast<double>(model.hidden);
  // Live hidden-size buffers of one layer's forward: residual, normed input, attention output,
  // MLP output and the all-reduce/all-to-all staging copies (bf16).
  const double hidden = tokens * h * k_bf16 * 8.0;
  const double heads = static_cast<double>(model.heads) / shape.tp;
  const double attention = tokens * heads *
                           static_cast<double>(2 * model::qk_head_dim(model) + model::v_head_dim(model)) * k_bf16;
  const double dense_mlp = model.ffn > 0 ? tokens * static_cast<double>(model.ffn) / shape.tp * 3.0 * k_bf16 : 0.0;
  double experts = 0.0;
  if (model.moe) {
    const double routed = tokens * shape.dp * static_cast<double>(model.moe->experts_per_token) / shape.ep;
    experts = routed * static_cast<double>(model.moe->expert_ffn) / shape.etp * 3.0 * k_bf16;
  }
  // Sampling gathers fp32 logits over the whole vocabulary for every running sequence.
  const double logits = static_cast<double>(max_sequences) * static_cast<double>(model.vocab) * 4.0;
  return hidden + std::max({attention, dense_mlp, experts}) + logits;
}

AbsorbedMla absorbed_mla(const model::ModelSpec& model, int tp) {
  const auto& mla = *model.mla;
  const double hidden = static_cast<double>(model.hidden);
  return {hidden,
          static_cast<double>(model.heads) / tp,
          static_cast<double>(mla.kv_lora_rank),
          mla.q_lora_rank > 0 ? static_cast<double>(mla.q_lora_rank) : hidden,
          static_cast<double>(mla.qk_rope_head_dim),
          static_cast<double>(mla.qk_nope_head_dim + mla.v_head_dim)};
}

double absorbed_mla_bytes_per_gpu(const model::ModelSpec& model, const InstanceShape& shape, WeightPrecision precision) {
  if (!model.mla) {
    return 0.0;
  }
  // What MLACommonImpl.process_weights_after_loading of vLLM's 0.7 line (vllm/attention/
  // backends/mla/utils.py, read at 04644e3) keeps beside the checkpoint's matrices, which prefill
  // still uses: W_Q_UK and W_UV_O in the attention weights' format, W_QR in bf16, and W_UK / W_UV
  // as views of the dequantized (bf16) kv_b_proj weight.
  const auto m = absorbed_mla(model, shape.tp);
  const double absorbed =
      (m.q_in * m.heads * m.latent + m.heads * m.latent * m.hidden) * weight_bytes(attention_weight_precision(model, precision));
  const double bf16 = (m.q_in * m.heads * m.rope + m.latent * m.heads * m.nope_and_v) * k_bf16;
  const auto [first, last] = stage_layers(model.layers, shape.pp, 0); // stage 0 has the most layers
  return static_cast<double>(last - first + 1) * (absorbed + bf16);
}

KvPool kv_pool(const model::ModelSpec& model, const InstanceShape& shape, WeightPrecision weights, KvPrecision kv,
               bool mtp_module, double gpu_memory_bytes, const EngineVersion& engine, std::int64_t batched_tokens,
               std::int64_t max_sequences, int offload) {
  KvPool pool;
  auto& memory = pool.memory;
  memory.total = gpu_memory_bytes;
  memory.weights = weight_bytes_per_gpu(model, shape, weights, mtp_module, offload) +
                   (engine.mla_absorbed_weights ? absorbed_mla_bytes_per_gpu(model, shape, weights) : 0.0);
  memory.activations = activation_bytes(model, shape, batched_tokens, max_sequences);
  const bool parallel = shape.tp > 1 || shape.ep > 1 || shape.etp > 1 || shape.pp > 1;
  const double nccl = parallel ? k_nccl_bytes : 0.0;
  double kv_bytes_free = 0.0;
  switch (engine.pool) {
  case PoolRule::utilization: {
    // vLLM leaves (1 − utilization) of the GPU to the CUDA context, CUDA graphs and whatever
    // else it does not profile; the rest holds weights, the profiled peak and the KV pool.
    const double fraction = engine.default_fraction;
    memory.memory_fraction = fraction;
    kv_bytes_free = memory.total * fraction - memory.weights - memory.activations - nccl;
    memory.other = memory.total * (1.0 - fraction) + nccl;
    break;
  }
  case PoolRule::static_fraction: {
    // SGLang's static part is weights + KV pool; brix sets the fraction so that the rest holds
    // the activation peak and the runtime's own memory (rounded down to 0.01, as users write it).
    const double rest = memory.activations + k_other_bytes + nccl;
    const double fraction = std::floor((1.0 - rest / memory.total) * 100.0) / 100.0;
    memory.memory_fraction = fraction;
    kv_bytes_free = memory.total * fraction - memory.weights;
    memory.other = memory.total * (1.0 - fraction) - memory.activations;
    break;
  }
  case PoolRule::free_fraction: {
    const double fraction = engine.default_fraction;
    memory.memory_fraction = fraction;
    const double free = memory.total - memory.weights - memory.activations - k_other_bytes - nccl;
    kv_bytes_free = free * fraction;
    memory.other = k_other_bytes + nccl + std::max(0.0, free) * (1.0 - fraction);
    break;
  }
  }
  pool.weights_fit = kv_bytes_free > 0.0;
  memory.kv_cache = std::max(0.0, kv_bytes_free);
  pool.kv_bytes_per_token = kv_bytes_per_token_per_gpu(model, shape, kv, engine.windows_pooled_full);
  pool.tokens = static_cast<std::int64_t>(std::floor(memory.kv_cache / pool.kv_bytes_per_token)) * shape.dp;
  return pool;
}

} // namespace brix::serve
