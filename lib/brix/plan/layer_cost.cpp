// Time of one decoder layer for one micro-batch on one GPU (layer_cost.hpp): GEMMs, attention
// core, expert work and dispatch, memory-bound kernels, the eager host floor, recomputation, and
// the TP, expert and CP collectives; the MoE router's GEMM; and how a layer's recomputation and
// collective passes add up over one micro-batch (layer_chain_seconds).

#include <brix/plan/layer_cost.hpp>
#include <brix/plan/layer_cost_detail.hpp>

#include <brix/plan/expert_work.hpp>
#include <brix/plan/memory.hpp>

#include <algorithm>
#include <cmath>

namespace brix::plan {

using namespace detail;

namespace {

/// Bytes per element an eager PyTorch Llama block moves where a fused kernel moves fewer
/// (torchtitan's models/norms.py RMSNorm and models/llama/model.py, Dec 2024), forward:
/// - RMSNorm `(x.float() * rsqrt(x.pow(2).mean(-1) + eps)).type_as(x) * weight`: float() reads 2
///   writes 4, pow 4+4, mean reads 4, the product 4+4, type_as 4+2, the weight product 2+2 = 36,
///   against 4 (read and write bf16) fused;
/// - SwiGLU `silu(w1(x)) * w3(x)`: silu 2+2, product 2+2+2 = 10 per FFN element, 6 fused;
/// - rotary embedding on q and k: float() 2+4, the complex product 4+4, type_as 4+2 = 20, 4 fused;
/// - repeat_kv: K and V expanded to every query head, read kv_heads·d, written heads·d, in bf16.
constexpr double k_eager_norm_bytes = 36.0;
constexpr double k_eager_gated_activation_bytes = 10.0;
constexpr double k_eager_rotary_bytes = 20.0;

} // namespace

double recompute_seconds(const LayerCost& cost, Recompute recompute) {
  switch (recompute) {
  case Recompute::full:
    return cost.recompute_full_s;
  case Recompute::selective:
    return cost.recompute_selective_s;
  case Recompute::selective_mlp:
    return cost.recompute_mlp_s;
  case Recompute::none:
    break;
  }
  return 0.0;
}

double tp_comm_passes(Recompute recompute) { return recompute == Recompute::full ? 3.0 : 2.0; }

double ep_comm_passes(Recompute recompute) {
  return recompute == Recompute::full || recompute == Recompute::selective_mlp ? 3.0 : 2.0;
}

double layer_chain_seconds(const LayerCost& cost, Recompute recompute) {
  const double forward_comm = cost.tp_comm_s + cost.ep_comm_s;
  const double backward_comm =
      (tp_comm_passes(recompute) - 1.0) * cost.tp_comm_s + (ep_comm_passes(recompute) - 1.0) * cost.ep_comm_s;
  return cost.forward_s + std::max(0.0, forward_comm - cost.host_idle_forward_s) + cost.backward_s +
         std::max(0.0, backward_comm - cost.host_idle_backward_s) + recompute_seconds(cost, recompute);
}

double router_gemm_seconds(const DeviceModel& device, double tokens, double experts, double hidden) {
  return gemm_seconds(bf16_gemm_device(device), tokens, experts, hidden, 2.0);
}

LayerCost layer_cost(const CostContext& context, const Layout& layout, const Placement& placement,
                     bool moe_layer) {
  const auto& model = *context.model;
  const auto& device = context.device;
  const double t = layout.tp;
  const double h = static_cast<double>(model.hidden);
  const double seq = static_cast<double>(context.seq_len);
  const double tokens = static_cast<double>(layout.micro_batch) * seq / layout.cp; // GEMM rows
  const double bytes = act_bytes(layout);
  // h-sized elementwise work runs on tokens/t rows with sequence parallelism, else replicated.
  const double h_rows = layout.sp ? tokens / t : tokens;

  LayerCost cost;
  const auto quantisation = fp8_quantisation_cost(context.software.fp8_recipe);
  Gemms gemms{device, bytes, quantisation};
  const auto attention = attention_gemms(model, layout, tokens, gemms);
  const double attention_gemm_s = gemms.seconds;

  // Attention core: QK^T and AV over the attended keys, the whole sequence or a sliding window
  // (CP splits the queries).
  const AttendedKeys keys = attended_keys(model, seq);
  const double per_key = 2.0 * tokens * attention.q_heads * (attention.qk_dim + attention.v_dim);
  const double core_flops = per_key * keys.counted;
  const double executed = context.software.causal_skip ? per_key * keys.causal : core_flops;
  double core_forward = 0;
  double core_backward = 0;
  if (context.software.flash_attention) {
    double fraction = device.attention_fraction;
    if (context.software.attention_kernels == AttentionKernels::flash2) {
      fraction = device.attention_fraction_fa2;
    } else if (context.software.attention_kernels == AttentionKernels::flash1) {
      fraction = device.attention_fraction_fa1;
    }
    core_forward = executed / (device.peak_flops * fraction) + device.kernel_overhead_s;
    core_backward = 2.5 * core_forward; // FlashAttention backward: 5 matmuls vs 2 forward
  } else {
    // One batched GEMM over every head of every sequence of the micro-batch.
    const double per_head_eff = gemm_shape_efficiency(
        device.sms,
        GemmShape{seq / layout.cp, keys.counted, attention.qk_dim,
                  attention.q_heads * static_cast<double>(layout.micro_batch)},
        device.tile_ramp_k);
    const double gemm_time = executed / (device.peak_flops * device.gemm_fraction * per_head_eff);
    // Scale-mask-softmax (read + write bf16 scores), plus dropout (mask + output) when used.
    const double scores = tokens * keys.counted * attention.q_heads;
    const double score_bytes = scores * (model.dropout ? 9.0 : 4.0);
    core_forward = gemm_time + memory_seconds(device, score_bytes) + 4 * device.kernel_overhead_s;
    core_backward = 2.0 * gemm_time + memory_seconds(device, 2.0 * score_bytes) + 6 * device.kernel_overhead_s;
  }
  const double core_kernel_forward = core_forward;
  const bool torch_ring = layout.cp > 1 && context.software.torch_context_parallel;
  // torch's context_parallel runs SDPA on the K/V the model hands it: torchtitan's Llama repeats
  // GQA's K/V heads before SDPA (repeat_kv), so what it gathers and differentiates is q-heads wide.
  const double torch_kv_elements = tokens * attention.q_heads * (attention.qk_dim + attention.v_dim);
  if (torch_ring) {
    const auto merges = torch_ring_merge_bytes(tokens * attention.q_heads * attention.v_dim,
                                               tokens * attention.q_heads * attention.qk_dim, torch_kv_elements,
                                               layout.cp);
    core_forward += memory_seconds(device, merges.forward) + merges.forward_kernels * device.kernel_overhead_s;
    core_backward += memory_seconds(device, merges.backward) + merges.backward_kernels * device.kernel_overhead_s;
  }
  cost.attention_core_s = core_forward;
  cost.attention_core_backward_s = core_backward;

  // MLP: dense, or shared + routed experts.
  const double mlp_gate = model.mlp == model::MlpKind::gated ? 2.0 : 1.0;
  double act_elements = 0; // activation-function inputs per token on this GPU
  double permute_bytes = 0;
  double sort_bytes = 0; // expert-order copies of the plain all-to-all dispatcher, each pass
  double fp8_pad_bytes = 0; // FP8 row padding and unpadding around the grouped experts, each pass
  double ep_bytes = 0;
  double expert_padding = 1.0; // token copies sent over those routed (capacity padding)
  ExpertEpilogue epilogue;
  if (moe_layer && model.moe) {
    const auto& moe = *model.moe;
    const double experts = static_cast<double>(moe.routed_experts);
    const double f = static_cast<double>(moe.expert_ffn);
    // The router (gating) GEMM, replicated across TP, bf16 under FP8 with no cast of its input.
    gemms.seconds += router_gemm_seconds(device, tokens, experts, h);
    gemms.flops += 2.0 * tokens * experts * h;
    if (moe.shared_experts > 0) {
      const double fs = static_cast<double>(moe.shared_ffn) / t;
      gemms.add(tokens, mlp_gate * fs, h);
      gemms.add(tokens, h, fs);
      act_elements += tokens * fs;
    }
    // Balanced routing: each GPU processes tokens·k/t token-expert pairs, spread over its
    // experts/ep local experts, each sliced f/etp wide.
    const double pairs = tokens * static_cast<double>(moe.experts_per_token) / t;
    const double local_experts = experts / layout.ep;
    const double fe = f / layout.etp;
    const ExpertRows expert_rows = expert_rows_per_gpu(layout, pairs, experts);
    const double rows = expert_rows.rows;
    expert_padding = expert_rows.padding;
    // The busiest EP rank sets the pace: its experts get `imbalance` times the mean rows
    // (dropless), or every expert its capacity (token dropping, padded: no busiest rank), or the
    // mean (forced balance).
    const double imbalance = layout.capacity > 0 || context.software.balanced_routing
                                 ? 1.0
                                 : expert_load_imbalance(layout.ep, local_experts);
    Gemms grouped{device, bytes, quantisation};
    grouped.grouped = true;
    grouped.ragged = layout.capacity <= 0;
    // TEGroupedMLP's GroupedLinear quantises its input and grad_output with split_quantize.
    grouped.split_quantize = context.software.per_expert_gemm_kernels;
    grouped.add(rows * imbalance, mlp_gate * fe, h, local_experts);
    grouped.add(rows * imbalance, h, fe, local_experts);
    gemms.seconds += grouped.seconds;
    if (context.software.per_expert_gemm_kernels && local_experts > 1) {
      // One kernel per local expert for each of the two GEMMs (physics.hpp
      // per_expert_gemm_kernels): the waves are shared as in a grouped kernel, every kernel after
      // the first adds its launch and tail. Backward's dgrad and wgrad scale with the forward.
      gemms.seconds += 2.0 * (local_experts - 1.0) * device.kernel_overhead_s;
    }
    gemms.flops += grouped.flops / imbalance; // useful FLOPs: the mean rank's
    gemms.cast_forward_bytes += grouped.cast_forward_bytes;
    gemms.cast_backward_bytes += grouped.cast_backward_bytes;
    gemms.cast_forward_kernels += grouped.cast_forward_kernels;
    gemms.cast_backward_kernels += grouped.cast_backward_kernels;
    act_elements += rows * imbalance * local_experts * fe;
    if (context.software.unfused_expert_epilogues) {
      epilogue = expert_epilogue(model, rows * imbalance * local_experts, local_experts, fe, mlp_gate);
    } else if (context.software.expert_bias_loops) {
      epilogue = expert_bias_loops(model, rows * imbalance * local_experts, local_experts, fe, mlp_gate);
    }
    // Permute + unpermute, read and write bf16, of the token copies this GPU sends (padded to
    // the capacity under token dropping).
    permute_bytes = 8.0 * pairs * imbalance * expert_rows.padding * h;
    if (context.software.sort_expert_chunks && layout.ep > 1 && local_experts > 1 &&
        (!context.software.hierarchical_all_to_all || layout.capacity > 0)) {
      // The received rows copied into expert order and back, read and write bf16 each
      // (physics.hpp sort_expert_chunks); backward sorts the gradients the same two ways.
      sort_bytes = 8.0 * rows * imbalance * local_experts * h;
    }
    // FP8: TEGroupedMLP's Fp8Padding copies the experts' bf16 input rows into an aligned buffer
    // and Fp8Unpadding copies FC2's output out of it, read and write each; backward copies the
    // two gradients back (physics.hpp fp8_expert_row_padding). Ragged (dropless) counts are
    // almost never all aligned; padded to capacity every expert has `rows`, aligned or not.
    if (bytes < 2.0 && context.software.fp8_expert_row_padding &&
        (layout.capacity <= 0 || std::fmod(rows, fp8_row_alignment(context.software.fp8_recipe)) != 0.0)) {
      fp8_pad_bytes = 8.0 * rows * imbalance * local_experts * h;
    }
    // Dispatch (FP8 under FP8 training where the framework sends it so, SoftwareProfile::
    // fp8_dispatch; else bf16) and combine (bf16).
    const double dispatch_bytes = context.software.fp8_dispatch ? bytes : 2.0;
    ep_bytes = pairs * expert_rows.padding * h * (dispatch_bytes + 2.0);
    if (layout.ep > 1) {
      ExpertTraffic traffic;
      traffic.tokens = tokens / t;
      traffic.experts_per_token = static_cast<double>(moe.experts_per_token) * expert_rows.padding;
      // Capacity padding runs only on Megatron-Core's plain alltoall dispatcher
      // (Megatron-Bridge's apply_moe_token_drop: "moe_expert_capacity_factor only works with
      // alltoall token dispatcher"): every token copy crosses the network on its own.
      traffic.hierarchical = context.software.hierarchical_all_to_all && layout.capacity <= 0;
      // Group-limited routing bounds the nodes a token reaches when the groups map onto nodes.
      const double nodes = static_cast<double>(placement.ep.ranks) / placement.ep.ranks_per_node;
      if (moe.routing_groups > 1) {
        traffic.max_nodes_per_token = static_cast<double>(moe.groups_per_token) *
                                      std::max(1.0, nodes / static_cast<double>(moe.routing_groups));
      }
      if (context.software.balanced_routing && context.software.consecutive_balanced_experts &&
          expert_rows.padding == 1.0) {
        traffic.consecutive_of_experts = static_cast<int>(std::lround(experts));
      }
      traffic.bytes_per_token = h * dispatch_bytes; // dispatch
      cost.ep_comm_s = expert_all_to_all_seconds(device, traffic, placement.ep);
      traffic.bytes_per_token = h * 2.0; // combine, bf16
      cost.ep_comm_s += expert_all_to_all_seconds(device, traffic, placement.ep);
    }
  } else {
    const double f = static_cast<double>(model.ffn) / t;
    gemms.add_after_norm(tokens, mlp_gate * f, h);
    gemms.add(tokens, h, f); // Megatron's own activation writes bf16: TERowParallelLinear casts it
    act_elements += tokens * f;
  }

  // Memory-bound kernels, bytes per forward pass.
  const bool eager = context.software.eager_elementwise;
  const double norm_bytes = 2.0 * h_rows * h * (eager ? k_eager_norm_bytes : 4.0); // two norms
  const double residual_bytes = 2.0 * h_rows * h * (model.dropout ? 9.0 : 6.0);
  const double activation_bytes =
      act_elements * (mlp_gate > 1.0 ? (eager ? k_eager_gated_activation_bytes : 6.0) : 4.0) +
      epilogue.activation_bytes;
  const double qkv_dims = attention.q_heads * (attention.qk_dim + attention.v_dim) + attention.kv_exchange;
  double rope_copy_bytes = tokens * qkv_dims * 4.0;
  if (eager && !model.mla) {
    const double q = attention.q_heads * attention.qk_dim;
    const double kv = attention.kv_exchange / 2.0; // this rank's K (or V) elements per token
    rope_copy_bytes += tokens * (q + kv) * (k_eager_rotary_bytes - 4.0);
    if (kv < q) {
      rope_copy_bytes += tokens * 2.0 * 2.0 * (kv + q); // repeat_kv of K and V
    }
  }
  const double elementwise = norm_bytes + residual_bytes + activation_bytes + rope_copy_bytes + permute_bytes;
  const double elementwise_s = memory_seconds(device, elementwise) + 10 * device.kernel_overhead_s;
  // The experts' unfused bias loops, each pass's own traffic (expert_work.hpp).
  const double epilogue_forward_s = memory_seconds(device, epilogue.bytes) + epilogue.kernels * device.kernel_overhead_s;
  const double epilogue_backward_s =
      memory_seconds(device, epilogue.backward_bytes) + epilogue.backward_kernels * device.kernel_overhead_s;

  const double cast_forward_s =
      memory_seconds(device, gemms.cast_forward_bytes) + gemms.cast_forward_kernels * device.kernel_overhead_s;
  const double cast_backward_s =
      memory_seconds(device, gemms.cast_backward_bytes) + gemms.cast_backward_kernels * device.kernel_overhead_s;
  // Padding moves the hidden states, the router probabilities and FC2's output: three kernels.
  const double expert_copies_s =
      (sort_bytes > 0 ? memory_seconds(device, sort_bytes) + 2 * device.kernel_overhead_s : 0.0) +
      (fp8_pad_bytes > 0 ? memory_seconds(device, fp8_pad_bytes) + 3 * device.kernel_overhead_s : 0.0);
  cost.forward_s = gemms.seconds + core_forward + elementwise_s + epilogue_forward_s + cast_forward_s + expert_copies_s;
  // Split for sub-block recomputation: the attention block takes its projections, its core,
  // the first norm and residual and its rotary/copies; the MLP block the rest.
  const double attention_elementwise =
      memory_seconds(device, norm_bytes / 2 + residual_bytes / 2 + rope_copy_bytes) + 5 * device.kernel_overhead_s;
  cost.attention_forward_s = attention_gemm_s + core_forward + attention_elementwise;
  cost.attention_backward_s = 2.0 * attention_gemm_s + core_backward + 2.0 * attention_elementwise;
  cost.weight_grad_s = gemms.seconds;
  cost.backward_s = 2.0 * gemms.seconds + core_backward + 2.0 * elementwise_s + epilogue_backward_s + cast_backward_s +
                    expert_copies_s;
  // An eager framework's host issues every operator outside the CUDA-graph-captured scopes: a
  // layer whose GPU work is shorter than that waits for the host (small models, small experts).
  const double host_op = context.software.host_seconds_per_op;
  auto launches = host_launches_per_layer(context.software.cuda_graphs, moe_layer && model.moe);
  if (launches.after_wait > 0) {
    // The experts are host-issued (no graph captures them), their unfused epilogues with them.
    launches.after_wait += epilogue.ops;
    if (layout.capacity > 0) {
      // Padded to capacity the dispatcher copies no token counts to the host and does not wait
      // for them (Megatron-Core token_dispatcher.py: drop_and_pad keeps cuda_sync_point
      // "no_sync"): the host runs ahead across the whole layer.
      launches.before_wait += launches.after_wait - k_ops_token_count_wait;
      launches.after_wait = 0;
    }
  }
  // The host blocks on the token counts until the GPU has drained the work before the wait;
  // then the GPU idles until the host issues the operators after it. The host runs ahead again
  // into the next layer's attention while the GPU runs the experts, so a period between two
  // waits is the longer of the GPU work, the launches after the wait followed by the attention
  // block's GPU work, and all the launches (router and preprocess GPU work counted after: small).
  const double gpu_forward_s = cost.forward_s;
  const double gpu_backward_s = cost.backward_s;
  cost.forward_s = std::max({cost.forward_s, launches.total() * host_op,
                             launches.after_wait * host_op + cost.attention_forward_s});
  // Backward knows its splits from the forward: no wait, the host runs ahead.
  cost.backward_s = std::max(cost.backward_s, 2.0 * launches.total() * host_op);
  cost.host_idle_forward_s = cost.forward_s - gpu_forward_s;
  cost.host_idle_backward_s = cost.backward_s - gpu_backward_s;
  // A sync inside the layer's attention drains the GPU; what the host issues after it, up to the
  // attention kernel, is GPU idle time in every forward (and recomputed forward).
  const double drained_s = context.software.drained_ops_per_layer * host_op;
  cost.forward_s += drained_s;
  cost.attention_forward_s += drained_s;
  cost.recompute_full_s = cost.forward_s;
  // Selective: without flash attention the attention core (Megatron 2022); with it the norms,
  // activation functions and MLA up-projections (Megatron-Core's cheap recompute modules).
  cost.recompute_selective_s =
      (context.software.flash_attention
           ? memory_seconds(device, norm_bytes + activation_bytes) + attention.up_projection_s + 4 * device.kernel_overhead_s
           : core_forward) +
      context.software.selective_gemm_share * gemms.seconds;
  // The MLP block again from its input (its share of the forward), with selective's attention side.
  const double attention_side_selective =
      context.software.flash_attention
          ? memory_seconds(device, norm_bytes / 2) + attention.up_projection_s + 2 * device.kernel_overhead_s
          : core_forward;
  cost.recompute_mlp_s = attention_side_selective + std::max(0.0, cost.forward_s - cost.attention_forward_s);
  // FLOPs counted as Megatron does (the full score matrix), so HFU ≥ MFU with causal kernels too.
  cost.forward_flops = gemms.flops + core_flops;

  // TP: two collectives per pass on the full activation (all-reduce, or reduce-scatter +
  // all-gather with SP: the same bytes on the wire, less where the all-gather moves the FP8
  // copy its GEMM reads).
  if (layout.tp > 1) {
    const double elements = tokens * h;
    const double gathered = elements * tp_all_gather_bytes(layout.precision == Precision::fp8, context.software);
    const double one = layout.sp
                           ? collective_seconds(device, Collective::reduce_scatter, elements * 2.0, placement.tp) +
                                 collective_seconds(device, Collective::all_gather, gathered, placement.tp)
                           : collective_seconds(device, Collective::all_reduce, elements * 2.0, placement.tp);
    double attention_side = one;
    double mlp_side = one;
    if (context.software.tp_comm_overlap) {
      attention_side = overlapped_seconds(attention_gemm_s, one) - attention_gemm_s;
      if (!moe_layer) { // userbuffers overlap TransformerEngine's linear layers, not expert dispatch
        const double mlp_gemm_s = gemms.seconds - attention_gemm_s;
        mlp_side = overlapped_seconds(mlp_gemm_s, one) - mlp_gemm_s;
      }
    }
    cost.tp_comm_s = attention_side + mlp_side;
  }
  if (ep_bytes > 0 && layout.etp > 1) {
    const double gathered =
        tokens * h * 2.0 * static_cast<double>(model.moe->experts_per_token) * expert_padding / t;
    cost.ep_comm_s += 2.0 * collective_seconds(device, Collective::all_gather, gathered, placement.etp);
  }
  if (torch_ring) {
    // One all-gather of the bf16 K/V, issued before the first (local) sub-SDPA and waited for
    // before the second: it hides behind 1/cp of the core. Backward waits after its loop for
    // the last fp32 dK/dV sent on by all-to-all.
    cost.cp_comm_s =
        collective_seconds(device, Collective::all_gather, torch_kv_elements * 2.0 * layout.cp, placement.cp);
    cost.cp_hidden_by_s = core_kernel_forward / layout.cp;
    cost.cp_backward_tail_s = collective_seconds(device, Collective::send_recv, torch_kv_elements * 4.0, placement.cp);
  } else if (layout.cp > 1) {
    // Ring exchange: each rank's K/V chunk visits the other cp−1 ranks beside the core's chunks.
    const double chunk = tokens * attention.kv_exchange * 2.0;
    cost.cp_comm_s = collective_seconds(device, Collective::all_gather, chunk * layout.cp, placement.cp);
    cost.cp_hidden_by_s = cost.attention_core_s;
  }
  if (layout.offload > 0 && device.host_link_bytes_per_s > 0) {
    const auto stored = stored_activation_bytes(
        layer_activation_bytes_of_kind(model, layout, TrainingShape{layout.micro_batch, context.seq_len}, moe_layer,
                                       context.software),
        layout.recompute);
    cost.offload_transfer_s = stored / device.host_link_bytes_per_s;
  }
  return cost;
}

} // namespace brix::plan
