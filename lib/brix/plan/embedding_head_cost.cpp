// The per-micro-batch cost of the pipeline's ends: the embedding on the first stage, the output
// head, cross-entropy and multi-token-prediction modules on the last.

#include <brix/plan/layer_cost.hpp>
#include <brix/plan/layer_cost_detail.hpp>

namespace brix::plan {

using namespace detail;

LayerCost embedding_cost(const CostContext& context, const Layout& layout, const Placement& placement) {
  const auto& model = *context.model;
  const double tokens = static_cast<double>(layout.micro_batch) * context.seq_len / layout.cp;
  const double h = static_cast<double>(model.hidden);
  LayerCost cost;
  cost.forward_s = memory_seconds(context.device, tokens * h * 4.0) + context.device.kernel_overhead_s;
  cost.backward_s = 2.0 * cost.forward_s;
  if (layout.tp > 1) { // vocabulary-parallel embedding: one all-reduce of the output
    cost.tp_comm_s = collective_seconds(context.device, Collective::all_reduce, tokens * h * 2.0, placement.tp);
  }
  return cost;
}

LayerCost head_cost(const CostContext& context, const Layout& layout, const Placement& placement) {
  const auto& model = *context.model;
  const auto& device = context.device;
  const double tokens = static_cast<double>(layout.micro_batch) * context.seq_len / layout.cp;
  const double h = static_cast<double>(model.hidden);
  const double vocab = static_cast<double>(model.vocab) / layout.tp;
  // The output layer runs bf16 under FP8 in every framework brix profiles: Megatron-Core's
  // output_layer is a tensor_parallel.ColumnParallelLinear, not a TransformerEngine module
  // (core_v0.13.0 gpt_model.py), so fp8_autocast never reaches it; torchtitan's Float8 converts
  // every nn.Linear but the one named "output" (torchtitan/float8.py, 2024-12: module_filter_fn
  // fqn != "output"; later configs' filter_fqns); DeepSeek-V3 keeps "the output head" in its
  // original precision (report, Sec. 3.3.1); MPT ties it to the embedding (llm-foundry).
  const DeviceModel bf16_device = bf16_gemm_device(device);
  Gemms gemms{bf16_device, 2.0, fp8_quantisation_cost(context.software.fp8_recipe)};
  gemms.add(tokens, vocab, h);
  // Cross-entropy in fp32 over the vocabulary shard: logits read/written a few times.
  const double softmax_bytes = tokens * vocab * 4.0 * 3.0;
  LayerCost cost;
  cost.forward_s = gemms.seconds + memory_seconds(device, softmax_bytes) + 4 * device.kernel_overhead_s;
  cost.backward_s = 2.0 * gemms.seconds + memory_seconds(device, softmax_bytes);
  cost.weight_grad_s = gemms.seconds;
  cost.forward_flops = gemms.flops;
  if (model.mtp_layers > 0) {
    // Each MTP module: a projection of [h; h] → h, one decoder layer and the shared head.
    const Placement& p = placement;
    const auto layer = layer_cost(context, layout, p, model.moe.has_value());
    Gemms extra{device, act_bytes(layout), fp8_quantisation_cost(context.software.fp8_recipe)};
    extra.add(tokens, h, 2.0 * h);
    const double modules = static_cast<double>(model.mtp_layers);
    cost.forward_s += modules * (layer.forward_s + extra.seconds + gemms.seconds);
    cost.backward_s += modules * (layer.backward_s + 2.0 * (extra.seconds + gemms.seconds));
    cost.weight_grad_s += modules * (layer.weight_grad_s + extra.seconds + gemms.seconds);
    cost.forward_flops += modules * (layer.forward_flops + extra.flops + gemms.flops);
    cost.tp_comm_s += modules * layer.tp_comm_s;
    cost.ep_comm_s += modules * layer.ep_comm_s;
  }
  return cost;
}

} // namespace brix::plan
