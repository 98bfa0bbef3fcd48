// The rows of a MoE layer's local experts and Megatron-Core's and NeMo AutoModel's unfused expert
// epilogues (expert_work.hpp).

#include <brix/plan/expert_work.hpp>

#include <cmath>

namespace brix::plan {

ExpertRows expert_rows_per_gpu(const Layout& layout, double pairs, double experts) {
  // Each of the EP·ETP ranks that feed a local expert sends it pairs/experts copies on average;
  // padded, exactly the capacity ceil(C·pairs/experts) each (Megatron-Core moe_utils.py
  // get_capacity over routing_map.size(0)·topk tokens; token_dispatcher.py
  // num_tokens_per_local_expert = capacity · tp_size · ep_size).
  const double per_source = pairs / experts;
  const double sources = static_cast<double>(layout.ep) * layout.etp;
  ExpertRows out;
  out.rows = per_source * sources;
  if (layout.capacity > 0 && per_source > 0) {
    const double capacity = std::ceil(layout.capacity * per_source);
    out.padding = capacity / per_source;
    out.rows = capacity * sources;
  }
  return out;
}

ExpertEpilogue expert_epilogue(const model::ModelSpec& model, double copies, double local_experts, double ffn,
                               double mlp_gate) {
  ExpertEpilogue out;
  if (model.linear_bias) {
    out.bytes = copies * static_cast<double>(model.hidden) * 12.0;
    out.kernels += 2.0 * local_experts + 1.0;
    out.ops += 2.0 * local_experts + 3.0;
  }
  if (model.moe && model.moe->activation_clamp > 0 && mlp_gate > 1.0) {
    out.activation_bytes = copies * mlp_gate * ffn * 8.0;
    out.kernels += 3.0;
    out.ops += 4.0;
  }
  // Backward is charged as twice the forward's loop, as for the layer's other elementwise work.
  out.backward_bytes = 2.0 * out.bytes;
  out.backward_kernels = 2.0 * out.kernels;
  return out;
}

ExpertEpilogue expert_bias_loops(const model::ModelSpec& model, double copies, double local_experts, double ffn,
                                 double mlp_gate) {
  ExpertEpilogue out;
  if (!model.linear_bias || !model.moe) {
    return out;
  }
  const double fc1 = copies * mlp_gate * ffn;
  const double fc2 = copies * static_cast<double>(model.hidden);
  out.bytes = fc1 * 8.0 + fc2 * 28.0;
  out.backward_bytes = fc1 * 6.0 + fc2 * 28.0;
  out.kernels = 3.0 * local_experts + 3.0;
  out.backward_kernels = 4.0 * local_experts + 3.0;
  out.ops = 3.0 * local_experts + 7.0;
  return out;
}

} // namespace brix::plan
