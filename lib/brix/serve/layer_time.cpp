// One decoder layer, the head and an MTP draft on one GPU of a serving instance: kernel groups,
// collectives hidden or not, floors (layer_time.hpp).
#include <brix/serve/layer_time.hpp>

#include <brix/model/params.hpp>
#include <brix/plan/layer_cost.hpp>
#include <brix/plan/physics.hpp>
#include <brix/serve/memory.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace brix::serve {

namespace {

using i64 = std::int64_t;
constexpr double k_bf16 = 2.0;
/// Share of the SMs prefill's high-throughput all-to-all kernels hold while they run: DeepEP's
/// Buffer.num_sms default of 20, of Hopper's 132.
constexpr double k_a2a_sm_share = 20.0 / 132.0;

/// What a kernel group streams: GEMM weights (at the GEMMs' streaming rate), the KV cache or
/// activations (at a streaming kernel's rate; booked with weights as "HBM weights+activations").
enum class MemoryKind { weights, kv, activations };
enum class ComputeKind { gemm, attention };

/// One group of kernels: the longest of its kernels' floors, its HBM traffic and its arithmetic.
void add_group(StepCost& cost, const ServeDevice& device, int kernels, double bytes, double flops,
               double achievable_flops, MemoryKind memory_kind, ComputeKind compute_kind) {
  const double floor = kernels * device.kernel_floor_s;
  const double memory =
      bytes / (memory_kind == MemoryKind::weights ? device.gemm_hbm_bytes_per_s : device.hbm_bytes_per_s);
  const double compute = achievable_flops > 0 ? flops / achievable_flops : 0.0;
  const double seconds = std::max({floor, memory, compute});
  cost.seconds += seconds;
  cost.kernels += kernels;
  if (floor >= memory && floor >= compute) {
    cost.floors_s += seconds;
  } else if (memory >= compute) {
    (memory_kind == MemoryKind::kv ? cost.kv_s : cost.weights_s) += seconds;
  } else {
    (compute_kind == ComputeKind::attention ? cost.attention_s : cost.gemm_s) += seconds;
  }
}

/// Arithmetic per query token and head of the attention core. Decode runs MLA absorbed (scores
/// over the latent and rope part, values over the latent); prefill runs it expanded, like MHA.
double attention_flops_per_key(const model::ModelSpec& model, bool decode) {
  if (model.mla && decode) {
    const auto& m = *model.mla;
    return 2.0 * static_cast<double>(m.kv_lora_rank + m.qk_rope_head_dim) + 2.0 * static_cast<double>(m.kv_lora_rank);
  }
  return 2.0 * static_cast<double>(model::qk_head_dim(model) + model::v_head_dim(model));
}

/// The prefill attention rate of `model`'s heads against the head-dim-128 kernels the device's
/// attention_fraction comes from. FlashAttention-3's forward on H100 SXM5 (Shah et al. 2024,
/// Fig. 5, FP16, 16K tokens, no mask) reaches 648 TFLOP/s at head dim 128 and 497 at head dim 64
/// (causal: 473 at 64): a 64-wide head does half the MMA work per softmax element and per K/V
/// tile. No narrower or in-between head was measured there, so only heads of 64 or less slow down.
double prefill_head_dim_factor(const model::ModelSpec& model) {
  return model::qk_head_dim(model) <= 64 ? 497.0 / 648.0 : 1.0;
}

/// Achievable FLOP/s of an m × n × k GEMM in `precision` (one grouped kernel over `experts`
/// whose rows vary around m, where experts > 1); block-scaled FP8/FP4 GEMMs also pay
/// their per-tile fixed work over a short reduction, and run at the Triton kernels' share of that
/// where the engine version runs those.
double gemm_rate(const StepContext& context, ComputePrecision precision, double m, double n, double k,
                 double experts = 1) {
  const auto& device = *context.device;
  const double block_scaled =
      precision == ComputePrecision::bf16
          ? 1.0
          : device.low_precision_gemm_share * k / (k + device.block_scaled_k_knee) *
                (context.triton_block_fp8 ? device.triton_block_scaled_fraction : 1.0);
  const plan::GemmShape shape{std::max(1.0, m), n, k, experts, experts > 1};
  const double shape_efficiency = plan::gemm_shape_efficiency(device.sms, shape, device.tile_ramp_k);
  return device.peak(precision) * device.gemm_fraction * shape_efficiency * block_scaled * context.gemm_sm_share;
}

/// Achievable FLOP/s of a gated MLP slice (gate/up: m × 2·ffn × h, two thirds of the
/// arithmetic; down: m × h × ffn, one third), so a thin slice's short down-projection counts.
double mlp_rate(const StepContext& context, ComputePrecision precision, double m, double ffn, double h,
                double experts = 1) {
  const double gate_up = gemm_rate(context, precision, m, 2.0 * ffn, h, experts);
  const double down = gemm_rate(context, precision, m, h, ffn, experts);
  return 1.0 / (2.0 / 3.0 / gate_up + 1.0 / 3.0 / down);
}

/// Achievable FLOP/s of the attention block's projections together: each GEMM at its own
/// shape (plan::attention_projections, the list training costs), so MLA's short-K
/// up-projections (kv up reduces over 512) pay their block-scaled reduction and tile ramp.
double attention_projection_rate(const StepContext& context, ComputePrecision precision, double tokens) {
  double flops = 0;
  double seconds = 0;
  for (const auto& projection : plan::attention_projections(*context.model, context.shape.tp)) {
    const double gemm_flops = 2.0 * tokens * projection.n * projection.k;
    flops += gemm_flops;
    seconds += gemm_flops / gemm_rate(context, precision, tokens, projection.n, projection.k);
  }
  return seconds > 0 ? flops / seconds : 0.0;
}

/// One projection GEMM of a rank: n x k weights read at `weight_bytes` per parameter and
/// multiplied in `precision`.
struct WeightGemm {
  double n = 0;
  double k = 0;
  ComputePrecision precision = ComputePrecision::bf16;
  double weight_bytes = k_bf16;
};

/// MLA decode's projections on one of `tp` ranks where the engine multiplies by absorbed
/// matrices it materialized at load time (EngineVersion::mla_absorbed_weights). vLLM's
/// MLACommonImpl.process_weights_after_loading of the 0.7 line (vllm/attention/backends/mla/
/// utils.py, read at 04644e3) forms W_Q_UK = einsum("qnd,lnd -> qnl", W_Q, W_UK), a q-LoRA-rank
/// x (heads x kv LoRA rank) matrix, and W_UV_O = einsum("lnd,hnd -> nlh", W_UV, W_O), a (heads x
/// kv LoRA rank) x hidden one, requantized with the checkpoint's FP8 block shape ("Currently fp8
/// requires matrix absorption"); "W_QR is small so for simplicity we dont bother requantizing
/// it": the rope part of q's up-projection is cast to the activation dtype. Decode then runs
/// the replicated down-projections, W_Q_UK, W_QR and W_UV_O; prefill keeps the checkpoint's
/// matrices. vLLM PR #14770 ("MLA get rid of materialization", 2025-03-13) dropped this.
std::vector<WeightGemm> absorbed_decode_projections(const model::ModelSpec& model, int tp,
                                                    WeightPrecision weights, ComputePrecision precision) {
  const auto m = absorbed_mla(model, tp);
  const double bytes = weight_bytes(weights);
  std::vector<WeightGemm> gemms;
  if (model.mla->q_lora_rank > 0) {
    gemms.push_back({m.q_in, m.hidden, precision, bytes}); // q down
  }
  gemms.push_back({m.latent + m.rope, m.hidden, precision, bytes});                  // kv down
  gemms.push_back({m.heads * m.latent, m.q_in, precision, bytes});                   // W_Q_UK
  gemms.push_back({m.heads * m.rope, m.q_in, ComputePrecision::bf16, k_bf16});       // W_QR
  gemms.push_back({m.hidden, m.heads * m.latent, precision, bytes});                 // W_UV_O
  return gemms;
}

/// Whether a step runs as two overlapped micro-batches: MoE all-to-all over several GPUs, at
/// least one sequence for each, and more tokens per rank than the engine's threshold.
bool micro_batched(const StepContext& context, const Batch& batch, bool decode) {
  const double threshold = decode ? context.overlap_min_decode_tokens : context.overlap_min_prefill_tokens;
  return context.overlap && context.model->moe && context.shape.ep > 1 && batch.sequences >= 2 &&
         batch.tokens > threshold;
}

/// Keys a query attends to in a layer of `window` keys (0: full attention). Decode reads the
/// last min(window, context) of each sequence. A prompt's causal attention averages p/2 keys per
/// query; with a window w < p the band holds min(i, w) keys at position i: w − w²/(2p) on average.
double attended_keys(double window, double tokens, bool decode) {
  if (decode) {
    return window > 0 ? std::min(window, tokens) : tokens;
  }
  return model::causal_attended_keys(window, tokens);
}

/// The same for a prompt's `tokens` computed after `cached` tokens whose KV the cache holds: the
/// query at position i attends min(i, window) keys, so the mean over positions cached..cached +
/// tokens is the difference of the two prefixes' sums.
double attended_keys_after(double window, double cached, double tokens) {
  if (cached <= 0) {
    return attended_keys(window, tokens, false);
  }
  const double whole = cached + tokens;
  return (whole * model::causal_attended_keys(window, whole) - cached * model::causal_attended_keys(window, cached)) /
         std::max(1.0, tokens);
}

} // namespace

StepCost layer_cost(const StepContext& step, bool moe_layer, const Batch& batch, bool decode, double window) {
  // The Triton block-FP8 figure was measured at prefill sizes (m = 2,048-4,096); at decode sizes
  // the same harness put those kernels within 1.0-1.5x of DeepGEMM, where weight streaming bounds
  // both, so decode keeps the streaming model.
  StepContext context = step;
  context.triton_block_fp8 = step.triton_block_fp8 && !decode;
  // vLLM's DBO runs the whole micro-batched forward, dense layers included, inside its SM
  // control: deep_gemm.set_num_sms(total − 20) while DeepEP's high-throughput kernels hold 20
  // (prefill); the low-latency kernels hold none (decode).
  const bool capped = step.overlap_reserves_comm_sms && !decode && micro_batched(step, batch, decode);
  context.gemm_sm_share = capped ? 1.0 - k_a2a_sm_share : 1.0;
  const auto& model = *context.model;
  const auto& device = *context.device;
  const auto& shape = context.shape;
  const double h = static_cast<double>(model.hidden);
  const double tokens = batch.tokens;
  const WeightPrecision attention_weights = attention_weight_precision(model, context.weights);
  const auto attention_precision = compute_precision(attention_weights, device);
  const auto mlp_precision = compute_precision(context.weights, device);
  const double mlp_bytes = weight_bytes(context.weights);

  // FP8/FP4 GEMMs quantize their activations first (dynamic per-token or per-block scales): one
  // more kernel in front of every GEMM input.
  const int attention_quant = attention_precision == ComputePrecision::bf16 ? 0 : (model.mla ? 3 : 2);
  const int mlp_quant = mlp_precision == ComputePrecision::bf16 ? 0 : 2;
  const int expert_quant = mlp_precision == ComputePrecision::bf16 ? 0 : 1;

  StepCost compute;
  // Attention projections (MLA: q_a+kv_a, q_b, the absorbed k/v up-projections, o; GQA: qkv, o).
  if (decode && model.mla && context.mla_absorbed_weights) {
    // Two groups on either side of the attention kernel: the q/kv projections (with two of the
    // input quantizations), then W_UV_O alone (with its own), whose read outlasts its floors.
    const auto gemms = absorbed_decode_projections(model, shape.tp, attention_weights, attention_precision);
    auto add_gemms = [&](std::size_t first, std::size_t last, int quant) {
      double bytes = tokens * h * k_bf16;
      double flops = 0;
      double seconds = 0;
      for (std::size_t i = first; i < last; ++i) {
        const auto& gemm = gemms[i];
        bytes += gemm.n * gemm.k * gemm.weight_bytes;
        flops += 2.0 * tokens * gemm.n * gemm.k;
        seconds += 2.0 * tokens * gemm.n * gemm.k / gemm_rate(context, gemm.precision, tokens, gemm.n, gemm.k);
      }
      add_group(compute, device, static_cast<int>(last - first) + quant, bytes, flops, flops / seconds,
                MemoryKind::weights, ComputeKind::gemm);
    };
    add_gemms(0, gemms.size() - 1, attention_quant - attention_quant / 3);
    add_gemms(gemms.size() - 1, gemms.size(), attention_quant / 3);
  } else {
    const double attention_params = attention_params_per_gpu(model, shape.tp);
    add_group(compute, device, (model.mla ? 5 : 2) + attention_quant,
              attention_params * weight_bytes(attention_weights) + tokens * h * k_bf16 * 2,
              2.0 * tokens * attention_params, attention_projection_rate(context, attention_precision, tokens),
              MemoryKind::weights, ComputeKind::gemm);
  }
  // Attention core.
  const double heads = static_cast<double>(model.heads) / shape.tp;
  const double kv_per_layer = kv_bytes_per_token_per_layer(model, shape.tp, context.kv);
  const double attention_rate = device.bf16_flops * device.attention_fraction;
  if (decode) {
    const double decode_rate =
        model.mla ? device.bf16_flops * (context.kv == KvPrecision::bf16 ? device.mla_decode_fraction
                                         : context.fp8_mla_mma && device.mla_decode_fp8_mma_fraction > 0
                                             ? device.mla_decode_fp8_mma_fraction
                                             : device.mla_decode_fp8_kv_fraction)
                  : attention_rate;
    const double keys = attended_keys(window, batch.context, true);
    add_group(compute, device, 1, batch.sequences * keys * kv_per_layer,
              tokens * heads * keys * attention_flops_per_key(model, true), decode_rate, MemoryKind::kv,
              ComputeKind::attention);
  } else {
    // Every computed prompt token's KV is written, in windowed layers too (the engine frees what
    // leaves the window later); a cached prefix's KV (what the window keeps of it) is read once
    // per sequence. Attention sinks (gpt-oss) add one learned logit per head and query to the
    // softmax: no KV and no arithmetic worth a term.
    const double cached_read = window > 0 ? std::min(window, context.cached_prefix) : context.cached_prefix;
    add_group(compute, device, 1, (tokens + batch.sequences * cached_read) * kv_per_layer,
              tokens * heads * attended_keys_after(window, context.cached_prefix, batch.prompt) *
                  attention_flops_per_key(model, false),
              attention_rate * prefill_head_dim_factor(model), MemoryKind::kv, ComputeKind::attention);
    if (model.mla && cached_read > 0) {
      // MLA prefill attends to a cached prefix in the full heads: the cached latents are
      // up-projected through kv_b_proj again, this rank's heads, per sequence (vLLM's
      // MLACommonImpl _compute_prefill_context; SGLang's chunked-prefix-cache MHA path). The
      // latents' read is the group above.
      const auto& mla = *model.mla;
      const double out = heads * static_cast<double>(mla.qk_nope_head_dim + mla.v_head_dim); // K nope and V
      const double latent = static_cast<double>(mla.kv_lora_rank);
      const double rows = batch.sequences * cached_read;
      add_group(compute, device, 1, rows * out * k_bf16, 2.0 * rows * latent * out,
                gemm_rate(context, ComputePrecision::bf16, rows, out, latent), MemoryKind::activations,
                ComputeKind::gemm);
    }
  }
  // Norms, rotary embedding, cache writes, residual adds; and where the engine runs MLA's glue
  // as separate PyTorch ops, those kernels (EngineVersion::mla_glue_kernels).
  add_group(compute, device, model.mla ? 5 + context.mla_glue_kernels : 3, tokens * h * k_bf16 * 6, 0, 0,
            MemoryKind::activations,
            ComputeKind::gemm);

  const auto params = model::layer_parameters_of_kind(model, moe_layer);
  // The gated activation between a GEMM pair is its own kernel (with the down-projection's
  // input quantization when that runs in FP8/FP4): it reads gate and up, writes their product,
  // and no GEMM's arithmetic hides that traffic.
  const double activation_out = mlp_precision == ComputePrecision::bf16 ? k_bf16 : 1.0;
  auto add_activation = [&](double rows, double ffn, int quant) {
    add_group(compute, device, 1 + (quant > 1 ? 1 : 0), rows * ffn * (2.0 * k_bf16 + activation_out), 0, 0,
              MemoryKind::activations, ComputeKind::gemm);
  };
  auto add_mlp = [&](double mlp_params, double ffn) {
    const double local = mlp_params / shape.tp;
    add_group(compute, device, 2 + (mlp_quant > 0 ? 1 : 0), local * mlp_bytes + tokens * ffn / shape.tp * k_bf16 * 3,
              2.0 * tokens * local, mlp_rate(context, mlp_precision, tokens, ffn / shape.tp, h), MemoryKind::weights,
              ComputeKind::gemm);
    add_activation(tokens, ffn / shape.tp, mlp_quant);
  };
  StepCost comm;
  auto add_comm = [&](double seconds) {
    comm.seconds += seconds;
    comm.collectives_s += seconds;
    comm.kernels += 1;
  };
  const auto tp_group = placement(device, shape.tp);
  if (shape.tp > 1) {
    add_comm(all_reduce_seconds(device, tokens * h * k_bf16, tp_group));
  }
  if (!moe_layer || !model.moe) {
    add_mlp(static_cast<double>(params.mlp_dense), static_cast<double>(model.ffn));
    if (shape.tp > 1) {
      add_comm(all_reduce_seconds(device, tokens * h * k_bf16, tp_group));
    }
  } else {
    const auto& moe = *model.moe;
    if (params.mlp_dense > 0) {
      add_mlp(static_cast<double>(params.mlp_dense), static_cast<double>(moe.shared_ffn));
    }
    const double experts = static_cast<double>(moe.routed_experts);
    const double top_k = static_cast<double>(moe.experts_per_token);
    // Router, top-k, permute and unpermute.
    add_group(compute, device, 4, tokens * h * k_bf16 * 2 + static_cast<double>(params.router) * k_bf16,
              2.0 * tokens * static_cast<double>(params.router), gemm_rate(context, ComputePrecision::bf16, tokens, experts, h),
              MemoryKind::weights, ComputeKind::gemm);
    // Routed experts: every token of the stage picks top_k experts; this GPU holds experts/ep of
    // them, each split over etp. An expert is idle with probability (1 − top_k/experts)^tokens.
    // The busiest GPU's share exceeds the mean by the larger of the sampling spread of few
    // tokens (sqrt(2·mean·ln ep), the maximum of ep Poisson counts) and the routing skew that
    // load balancing leaves, the training planner's (plan::expert_load_imbalance).
    const double stage_tokens = tokens * shape.dp;
    const double local_experts = experts / shape.ep;
    const double active = local_experts * (1.0 - std::pow(1.0 - top_k / experts, stage_tokens));
    const double mean = stage_tokens * top_k / shape.ep;
    const double skewed = mean * plan::expert_load_imbalance(shape.ep, local_experts);
    const double busiest = shape.ep > 1 ? std::min(std::max(mean + std::sqrt(2.0 * mean * std::log(shape.ep)), skewed),
                                                   stage_tokens * std::min(top_k, local_experts))
                                        : mean;
    const double expert_params = static_cast<double>(params.expert_one) / shape.etp;
    const double expert_ffn = static_cast<double>(moe.expert_ffn) / shape.etp;
    add_group(compute, device, 2, active * expert_params * mlp_bytes + busiest * h * k_bf16 * 2,
              2.0 * busiest * expert_params,
              mlp_rate(context, mlp_precision, busiest / std::max(1.0, active), expert_ffn, h, std::max(1.0, active)),
              MemoryKind::weights,
              ComputeKind::gemm);
    add_activation(busiest, expert_ffn, 1 + expert_quant);
    // Sum each token's top-k expert outputs (read every copy, write the token); with EP the
    // copies received from other GPUs are also permuted into expert-contiguous order first (a
    // read and a write each), where a fused MoE over local tokens gathers them inside its GEMM.
    const double permute = shape.ep > 1 && device.deepep ? 2.0 * activation_out : 0.0;
    add_group(compute, device, 0, busiest * h * (2.0 * k_bf16 + permute), 0, 0, MemoryKind::activations,
              ComputeKind::gemm);
    const auto stage_group = placement(device, shape.stage_gpus());
    if (shape.ep > 1 && device.deepep) {
      // Dispatch (FP8 with scales when the experts compute in FP8/FP4) and combine (bf16) of
      // this GPU's share of the tokens to the GPUs holding their experts: decode's low-latency
      // kernels send every copy directly; prefill's high-throughput kernels send a token once
      // per remote NVLink domain and fan it out there (DeepEP's two modes).
      const double sent = tokens / shape.tp;
      const double dispatch = mlp_precision == ComputePrecision::bf16 ? k_bf16 : 1.0 + 4.0 / 128.0;
      if (decode) {
        add_comm(all_to_all_seconds(device, sent * top_k * h * dispatch, stage_group));
        add_comm(all_to_all_seconds(device, sent * top_k * h * k_bf16, stage_group));
      } else {
        add_comm(grouped_all_to_all_seconds(device, sent, h * dispatch, top_k, stage_group));
        add_comm(grouped_all_to_all_seconds(device, sent, h * k_bf16, top_k, stage_group));
      }
      if (shape.tp > 1) {
        add_comm(all_reduce_seconds(device, tokens * h * k_bf16, tp_group));
      }
      if (shape.etp > 1) {
        add_comm(all_reduce_seconds(device, busiest * h * k_bf16, placement(device, shape.etp)));
      }
    } else {
      // Experts split over every GPU of the stage (or, without DeepEP, spread by EP over them):
      // gather the DP ranks' tokens, reduce-scatter back.
      add_comm(all_reduce_seconds(device, stage_tokens * h * k_bf16, stage_group));
    }
  }

  StepCost layer = compute;
  const bool overlapped = moe_layer && micro_batched(context, batch, decode);
  if (overlapped) {
    // Two micro-batches: one's all-to-all runs while the other computes, except the first
    // micro-batch's compute and the last one's communication: max(C, M) + min(C, M) / 2.
    // Each micro-batch launches its own kernels: the floors count twice.
    const double floors = compute.floors_s;
    layer.seconds += floors;
    layer.floors_s += floors;
    // Each micro-batch launches its own kernels and collectives.
    layer.kernels += compute.kernels + 2.0 * comm.kernels;
    // Prefill's high-throughput all-to-all kernels hold SMs while they run (DeepEP's normal
    // kernels take 20 by default, of Hopper's 132): the compute beside them runs on the rest.
    // Decode's low-latency kernels receive through a hook and hold none.
    // Where the engine already runs every GEMM on the SMs left (`capped`), only the few other
    // kernels beside it (attention, norms) would be stretched: not counted.
    const double stretched = decode || capped
                                 ? 0.0
                                 : std::min(comm.seconds, layer.seconds) * k_a2a_sm_share / (1.0 - k_a2a_sm_share);
    const double busy = layer.seconds + stretched;
    const double exposed = std::max(comm.seconds, busy) + std::min(comm.seconds, busy) / 2.0 - layer.seconds;
    layer.seconds += exposed;
    layer.collectives_s += exposed;
  } else {
    layer += comm;
  }
  return layer;
}

StepCost head_cost(const StepContext& context, double rows) {
  const auto& model = *context.model;
  const auto& device = *context.device;
  const double h = static_cast<double>(model.hidden);
  const double vocab = static_cast<double>(model.vocab) / context.shape.tp;
  StepCost cost;
  add_group(cost, device, 4, vocab * h * k_bf16 + rows * vocab * 4.0, 2.0 * rows * h * vocab,
            gemm_rate(context, ComputePrecision::bf16, rows, vocab, h), MemoryKind::weights, ComputeKind::gemm);
  if (context.shape.tp > 1) {
    const double seconds = all_reduce_seconds(device, rows * vocab * 4.0 / 2.0, placement(device, context.shape.tp));
    cost.seconds += seconds;
    cost.collectives_s += seconds;
    cost.kernels += 1;
  }
  return cost;
}

StepCost mtp_draft_cost(const StepContext& context, double micro, double context_tokens) {
  const auto& model = *context.model;
  const Batch draft{micro, micro, context_tokens, 0};
  StepCost one = layer_cost(context, model.is_moe_layer(model.layers - 1), draft, true,
                            static_cast<double>(model.attention_window(model.layers - 1)));
  one += head_cost(context, micro);
  const double h = static_cast<double>(model.hidden);
  add_group(one, *context.device, 1, 2.0 * h * h / context.shape.tp * weight_bytes(context.weights),
            2.0 * micro * 2.0 * h * h / context.shape.tp,
            gemm_rate(context, compute_precision(context.weights, *context.device), micro, h, 2.0 * h),
            MemoryKind::weights, ComputeKind::gemm);
  return one;
}

} // namespace brix::serve
