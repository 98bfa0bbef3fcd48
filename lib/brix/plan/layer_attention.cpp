// The attention block of a decoder layer: its projection GEMMs on one tensor-parallel rank, the
// keys each query attends to, and the memory traffic of torch's ring attention around its
// sub-SDPA calls under context parallelism.

#include <brix/plan/layer_cost.hpp>
#include <brix/plan/layer_cost_detail.hpp>

#include <brix/model/params.hpp>

#include <algorithm>

namespace brix::plan {

namespace detail {

AttentionShape attention_gemms(const model::ModelSpec& model, const Layout& layout, double tokens,
                               Gemms& gemms) {
  const double t = layout.tp;
  AttentionShape shape;
  shape.q_heads = static_cast<double>(model.heads) / t;
  for (const auto& projection : attention_projections(model, layout.tp)) {
    const double before = gemms.seconds;
    if (projection.after_norm) {
      gemms.add_after_norm(tokens, projection.n, projection.k);
    } else {
      gemms.add(tokens, projection.n, projection.k);
    }
    if (projection.up_projection) {
      shape.up_projection_s += gemms.seconds - before;
    }
  }
  if (model.mla) {
    const auto& mla = *model.mla;
    const double qk = static_cast<double>(mla.qk_nope_head_dim + mla.qk_rope_head_dim);
    shape.qk_dim = qk;
    shape.v_dim = static_cast<double>(mla.v_head_dim);
    shape.kv_exchange = shape.q_heads * (qk + shape.v_dim);
    return shape;
  }
  const double d = static_cast<double>(model.head_dim);
  const double kv_heads = std::max(1.0, static_cast<double>(model.kv_heads) / t);
  shape.qk_dim = d;
  shape.v_dim = d;
  shape.kv_exchange = 2.0 * kv_heads * d;
  return shape;
}

AttendedKeys attended_keys(const model::ModelSpec& model, double seq) {
  if (model.layer_window.empty() || model.layers <= 0) {
    return {seq, 0.5 * seq};
  }
  AttendedKeys keys;
  for (std::int64_t layer = 0; layer < model.layers; ++layer) {
    const auto window = static_cast<double>(model.attention_window(layer));
    const double k = window > 0 ? std::min(window, seq) : seq;
    keys.counted += k;
    keys.causal += model::causal_attended_keys(window, seq);
  }
  keys.counted /= static_cast<double>(model.layers);
  keys.causal /= static_cast<double>(model.layers);
  return keys;
}

/// Forward (_SDPAMerger, convert_to_f32): each step's output cast to fp32 (2 B read, 4 written);
/// from the second step `out - sigmoid(lse_b - lse) * (out - out_b)`: three fp32 elementwise
/// operators, 12 + 8 + 12 B; the result cast back once (4 + 2). Backward: fp32 gradient buffers
/// zeroed (4 B), each step's bf16 gradients added into them (2 + 4 + 4 B), the fp32 dK/dV
/// concatenated for the all-to-all (4 + 4 B) and, from the second step, re-split with a
/// chunk/cat update (4 + 4 B); the results cast to bf16 once (4 + 2 B).
TorchRingMerges torch_ring_merge_bytes(double out, double query, double kv, int cp) {
  const double later_steps = cp - 1.0;
  TorchRingMerges merges;
  merges.forward = out * (6.0 + later_steps * (6.0 + 32.0) + 6.0);
  merges.forward_kernels = 2.0 + later_steps * 4.0;
  merges.backward = 4.0 * (query + kv) + cp * 10.0 * (query + kv) + cp * 8.0 * kv + later_steps * 8.0 * kv +
                    6.0 * (query + kv);
  merges.backward_kernels = 3.0 + cp * 5.0 + later_steps * 2.0 + 2.0;
  return merges;
}

} // namespace detail

std::vector<ProjectionGemm> attention_projections(const model::ModelSpec& model, int tp) {
  const double t = tp;
  const double h = static_cast<double>(model.hidden);
  const double q_heads = static_cast<double>(model.heads) / t;
  std::vector<ProjectionGemm> projections;
  if (model.mla) {
    const auto& mla = *model.mla;
    const double qk = static_cast<double>(mla.qk_nope_head_dim + mla.qk_rope_head_dim);
    if (mla.q_lora_rank > 0) {
      projections.push_back({static_cast<double>(mla.q_lora_rank), h});                      // q down
      projections.push_back({q_heads * qk, static_cast<double>(mla.q_lora_rank), true, true}); // q up, after q norm
    } else {
      projections.push_back({q_heads * qk, h});
    }
    projections.push_back({static_cast<double>(mla.kv_lora_rank + mla.qk_rope_head_dim), h}); // kv down
    projections.push_back({q_heads * static_cast<double>(mla.qk_nope_head_dim + mla.v_head_dim),
                           static_cast<double>(mla.kv_lora_rank), true, true}); // kv up, after kv norm
    projections.push_back({h, q_heads * static_cast<double>(mla.v_head_dim)});  // output
    return projections;
  }
  const double d = static_cast<double>(model.head_dim);
  const double kv_heads = std::max(1.0, static_cast<double>(model.kv_heads) / t);
  projections.push_back({(q_heads + 2.0 * kv_heads) * d, h, true});
  projections.push_back({h, q_heads * d});
  return projections;
}

} // namespace brix::plan
