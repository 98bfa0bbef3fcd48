#include <brix/plan/memory.hpp>

#include <brix/plan/step_time.hpp>

#include <brix/model/params.hpp>
#include <brix/plan/expert_work.hpp>

#include <algorithm>

namespace brix::plan {

using model::ModelSpec;

namespace {

/// The per-GPU shape of one micro-batch: sequence slice, batch, and the divisors.
struct Shard {
  double s = 0;       ///< full sequence (for the quadratic score term)
  double s_local = 0; ///< sequence per context-parallel rank
  double b = 0;       ///< micro-batch
  double t = 1;       ///< tensor-parallel size: divides head/ffn-sharded tensors
  double rep = 1;     ///< divides tensors that TP replicates unless sequence parallelism shards them
  double linear = 2;  ///< bytes of a saved linear-layer input: 2 (bf16) or 1 (fp8)
  [[nodiscard]] double tokens() const { return s_local * b; }
};

Shard shard_of(const ModelSpec& model, const Layout& layout, const TrainingShape& shape) {
  Shard shard;
  shard.s = static_cast<double>(shape.seq_len > 0 ? shape.seq_len : model.default_seq_len);
  shard.s_local = shard.s / std::max(1, layout.cp);
  shard.b = std::max(1, layout.micro_batch);
  shard.t = std::max(1, layout.tp);
  shard.rep = layout.sp && layout.tp > 1 ? shard.t : 1.0;
  shard.linear = layout.precision == Precision::fp8 ? 1.0 : 2.0;
  return shard;
}

/// Bytes of the saved tensors of an MLP of intermediate size `ffn` per token, sharded over t:
/// GeLU: activation input 2f + fc2 input (linear) f; gated: fc1 output (gate and up) 4f + fc2
/// input. The MLP input and dropout mask are counted by the caller.
/// `cached` is the bytes per element of the kept activation-function input (2, or 1 where the
/// framework caches it in FP8).
double mlp_hidden_bytes(const ModelSpec& model, double ffn, double linear, double cached = 2.0) {
  return (model.mlp == model::MlpKind::gated ? 2.0 : 1.0) * cached * ffn + linear * ffn;
}

/// Activations of the language-model head for one micro-batch: final norm input, head GEMM
/// input, fp32 logits kept by the vocab-parallel cross entropy.
double head_bytes(const ModelSpec& model, const Shard& shard) {
  const double h = static_cast<double>(model.hidden);
  const double v = static_cast<double>(model.vocab);
  return (2.0 + shard.linear) * shard.tokens() * h / shard.rep + 4.0 * shard.tokens() * v / shard.t;
}

/// Parameters of a stage split by how they are distributed.
struct StageParams {
  double tp_split = 0;   ///< split over TP (projections, MLPs, vocab-parallel embedding/head)
  double replicated = 0; ///< replicated over TP (norms, router, position table)
  double experts = 0;    ///< routed experts, split over EP·ETP
  double largest_matrix = 0;
  /// Parameters of the largest decoder layer one GPU gathers (FSDP gathers a layer): its dense
  /// part over TP, and only the routed experts this GPU's EP·ETP rank holds; FSDP shards each
  /// expert over the expert-DP group and all-gathers it there, never across EP.
  double largest_layer = 0;
};

/// Adds `count` layers like `layer`.
void add_layers(StageParams& params, const model::LayerParams& layer, double count, const Layout& layout) {
  if (count <= 0) {
    return;
  }
  const double t = std::max(1, layout.tp);
  params.tp_split += count * static_cast<double>(layer.attention + layer.mlp_dense);
  params.replicated += count * static_cast<double>(layer.norms + layer.router);
  params.experts += count * static_cast<double>(layer.experts);
  params.largest_matrix = std::max(params.largest_matrix, static_cast<double>(layer.largest_matrix));
  const double gathered = static_cast<double>(layer.attention + layer.mlp_dense) / t +
                          static_cast<double>(layer.norms + layer.router) +
                          static_cast<double>(layer.experts) / std::max(1, layout.ep * layout.etp);
  params.largest_layer = std::max(params.largest_layer, gathered);
}

/// Dense and MoE layers of a span: all layers of one kind are alike, so the span costs O(1).
struct LayerMix {
  double dense = 0;
  double moe = 0;
};

LayerMix layer_mix(const ModelSpec& model, const StageSpan& span) {
  LayerMix mix;
  mix.moe = static_cast<double>(model::moe_layers_in(model, span.first_layer, span.last_layer));
  mix.dense = std::max(0, span.layers()) - mix.moe;
  return mix;
}

StageParams stage_params(const ModelSpec& model, const Layout& layout, const StageSpan& span) {
  StageParams params;
  const LayerMix mix = layer_mix(model, span);
  add_layers(params, model::layer_parameters_of_kind(model, false), mix.dense, layout);
  add_layers(params, model::layer_parameters_of_kind(model, true), mix.moe, layout);
  const double h = static_cast<double>(model.hidden);
  const double width =
      static_cast<double>(model.embedding_projection > 0 ? model.embedding_projection : model.hidden);
  const double vocab_matrix = static_cast<double>(model.vocab) * width;
  const double projection = model.embedding_projection > 0 ? width * h : 0.0;
  const double norm = model.norm == model::NormKind::layernorm ? 2.0 * h : h;
  if (span.embedding || span.head) {
    params.largest_matrix = std::max(params.largest_matrix, vocab_matrix);
  }
  if (span.embedding) {
    params.tp_split += vocab_matrix + projection;
    if (model.position == model::PositionKind::learned) {
      params.replicated += static_cast<double>(model.max_positions) * h;
    }
    params.replicated += model.embedding_norm ? norm : 0.0;
  }
  if (span.head) {
    // A tied head still needs its own copy of the embedding on the last stage when pp > 1.
    if (!model.tied_embeddings || (layout.pp > 1 && !span.embedding)) {
      params.tp_split += vocab_matrix + projection;
    }
    params.replicated += norm;
    if (model.mtp_layers > 0) {
      const double modules = static_cast<double>(model.mtp_layers);
      add_layers(params, model::layer_parameters(model, model.layers - 1), modules, layout);
      params.tp_split += modules * 2.0 * h * h; // eh_proj
      params.replicated += modules * 3.0 * norm;
    }
  }
  return params;
}

} // namespace

StageSpan uniform_stage(const ModelSpec& model, const PipelineSplit& split, int stage_index) {
  PipelineSplit stages = split;
  stages.stages = std::clamp(split.stages, 1, std::max(1, static_cast<int>(model.layers)));
  StageSpan span;
  span.first_layer = static_cast<int>(first_layer_of_stage(model.layers, stages, stage_index));
  span.last_layer = static_cast<int>(first_layer_of_stage(model.layers, stages, stage_index + 1)) - 1;
  span.embedding = stage_index == 0;
  span.head = stage_index == stages.stages - 1;
  return span;
}

StageSpan uniform_stage(const ModelSpec& model, int pp, int stage_index) {
  return uniform_stage(model, PipelineSplit{pp}, stage_index);
}

void uniform_stages(const ModelSpec& model, const PipelineSplit& split, std::span<StageSpan> out) {
  for (int stage = 0; stage < split.stages && stage < static_cast<int>(out.size()); ++stage) {
    out[static_cast<std::size_t>(stage)] = uniform_stage(model, split, stage);
  }
}

void uniform_stages(const ModelSpec& model, int pp, std::span<StageSpan> out) {
  uniform_stages(model, PipelineSplit{pp}, out);
}

std::vector<StageSpan> uniform_stages(const ModelSpec& model, const PipelineSplit& split) {
  std::vector<StageSpan> stages(static_cast<std::size_t>(std::max(split.stages, 1)));
  uniform_stages(model, split, stages);
  return stages;
}

std::vector<StageSpan> uniform_stages(const ModelSpec& model, int pp) { return uniform_stages(model, PipelineSplit{pp}); }

PipelineSplit pipeline_split(const Layout& layout) { return {layout.pp, layout.pp_embedding, layout.pp_loss}; }

LayerActivations layer_activation_bytes(const ModelSpec& model, const Layout& layout,
                                        const TrainingShape& shape, std::int64_t layer) {
  return layer_activation_bytes_of_kind(model, layout, shape, model.is_moe_layer(layer));
}

LayerActivations layer_activation_bytes_of_kind(const ModelSpec& model, const Layout& layout,
                                                const TrainingShape& shape, bool moe_layer,
                                                const SoftwareProfile& software) {
  const Shard shard = shard_of(model, layout, shape);
  const double sb = shard.tokens();
  const double t = shard.t;
  const double rep = shard.rep;
  const double lin = shard.linear;
  const double h = static_cast<double>(model.hidden);
  const double a = static_cast<double>(model.heads);
  const double kv = static_cast<double>(model.kv_heads);
  const double dqk = static_cast<double>(model::qk_head_dim(model));
  const double dv = static_cast<double>(model::v_head_dim(model));
  const double dropout_mask = model.dropout ? sb * h / rep : 0.0; // 1 byte per element

  LayerActivations act;
  act.layer_input = 2.0 * sb * h / rep;
  act.norms = 2.0 * sb * h / rep; // pre-MLP norm input
  if (model.qk_norm) {
    act.norms += 2.0 * sb * (a + kv) * dqk / t;
  }
  // Saved GEMM inputs: q/k/v (or MLA down) projection input, output projection input.
  act.attention_projections = lin * sb * h / rep + lin * sb * a * dv / t + dropout_mask;
  if (model.mla) {
    // Latents are computed by down-projections that TP replicates: their norm inputs and the
    // up-projection inputs are sharded only by sequence parallelism.
    const double q_latent = static_cast<double>(model.mla->q_lora_rank);
    const double kv_latent = static_cast<double>(model.mla->kv_lora_rank);
    act.norms += 2.0 * sb * (q_latent + kv_latent) / rep;
    act.attention_projections += lin * sb * (q_latent + kv_latent) / rep;
  }
  act.attention_core = 2.0 * sb * (a * dqk + kv * dqk + kv * dv) / t;
  if (layout.flash_attention) {
    act.attention_core += 4.0 * sb * a / t; // fp32 log-sum-exp per query row
  } else {
    // Softmax output 2 B; with dropout also its mask 1 B and output 2 B (Korthikanti's 5·a·s²·b).
    act.attention_scores = (model.dropout ? 5.0 : 2.0) * a * sb * shard.s / t;
  }

  double activation_outputs = 0; // activation-function outputs (fc2 inputs), recomputable from fc1's
  double mlp_block = 0;          // the MLP block's activations: act.mlp + act.experts
  if (moe_layer && model.moe) {
    const auto& moe = *model.moe;
    const double experts = static_cast<double>(moe.routed_experts);
    const double k = static_cast<double>(moe.experts_per_token);
    const double expert_ffn = static_cast<double>(moe.expert_ffn);
    const double cached = software.fp8_moe_activation_cache && layout.precision == Precision::fp8 ? 1.0 : 2.0;
    // Input to router, shared experts and dispatcher; fp32 router logits; dropout mask.
    act.mlp = lin * sb * h / rep + 4.0 * sb * experts / rep + dropout_mask;
    if (moe.shared_ffn > 0) {
      const double shared = static_cast<double>(moe.shared_ffn);
      act.mlp += sb * mlp_hidden_bytes(model, shared, lin, cached) / t;
      activation_outputs += lin * sb * shared / t;
    }
    // Balanced routing spreads the k·tokens copies evenly over the stage's GPUs: per GPU the
    // expert intermediates are k·s·b·(…)·f/(t·cp), and the dispatched token copies (fc1's saved
    // input) are replicated over the ETP group. The experts' outputs are not kept: the routing
    // weights are applied inside the activation function (Megatron-Core's experts.py,
    // weighted_bias_swiglu), so the combine's backward needs nothing but the indices, and the
    // permute, all-to-all and unpermute buffers are transient (each exists once, while it runs).
    // Padded to capacity every expert keeps its capacity's rows, dropped or padding included.
    const double padding = expert_rows_per_gpu(layout, k * sb / t, experts).padding;
    act.experts = padding * (k * sb * mlp_hidden_bytes(model, expert_ffn, lin, cached) / t +
                             k * sb * std::max(1, layout.etp) * lin * h / t);
    activation_outputs += padding * k * sb * lin * expert_ffn / t;
  } else {
    const double ffn = static_cast<double>(model.ffn);
    act.mlp = lin * sb * h / rep + sb * mlp_hidden_bytes(model, ffn, lin) / t + dropout_mask;
    activation_outputs += lin * sb * ffn / t;
  }
  mlp_block = act.mlp + act.experts;
  if (!layout.flash_attention) {
    act.selective_recomputed = act.attention_scores;
  } else {
    // MLA keeps its latents (attention_projections); the up-projected heads are recomputed.
    const double mla_heads = model.mla ? act.attention_core - 4.0 * sb * a / t : 0.0;
    act.selective_recomputed = act.norms + mla_heads + activation_outputs;
  }
  // Recomputing the block from its input keeps that input (the pre-MLP norm's output, bf16,
  // sharded by SP): what the checkpoint holds in Megatron-Core's --recompute-modules mlp/moe.
  const double mlp_in_selective = layout.flash_attention ? activation_outputs : 0.0;
  act.mlp_block_recomputed = std::max(0.0, mlp_block - mlp_in_selective - 2.0 * sb * h / rep);
  return act;
}

double stored_activation_bytes(const LayerActivations& layer, Recompute recompute) {
  switch (recompute) {
  case Recompute::none:
    return layer.total();
  case Recompute::selective:
    return layer.total() - layer.selective_recomputed;
  case Recompute::selective_mlp:
    return layer.total() - layer.selective_recomputed - layer.mlp_block_recomputed;
  case Recompute::full:
    return layer.layer_input;
  }
  return layer.total();
}

int overlap_warmup_chunks(const ModelSpec& model, const Layout& layout, const SoftwareProfile& software) {
  return software.overlap_all_to_all && model.moe && combined_1f1b_runs(layout) &&
                 layout.schedule == Schedule::interleaved && layout.pp > 1
             ? 1
             : 0;
}

double in_flight_micro_batches(const Layout& layout, const TrainingShape& shape, int stage_index, int extra_chunks) {
  const auto m = static_cast<double>(micro_batches_per_step(layout, shape));
  const int pp = std::max(1, layout.pp);
  const int v = std::max(1, layout.vpp);
  switch (layout.schedule) {
  case Schedule::one_f_one_b:
  case Schedule::zb_h1:
    return std::min(m, static_cast<double>(pp - stage_index));
  case Schedule::interleaved: {
    const double chunks = std::min(m * v, 2.0 * (pp - stage_index - 1) + (v - 1.0) * pp + 1.0 + extra_chunks);
    return chunks / v;
  }
  case Schedule::dualpipe:
    return std::min(m, static_cast<double>(pp + 1));
  }
  return std::min(m, static_cast<double>(pp - stage_index));
}

double in_flight_micro_batches(const Layout& layout, const TrainingShape& shape, int stage_index,
                               const StageSpan& span, int extra_chunks) {
  const double uniform = in_flight_micro_batches(layout, shape, stage_index, extra_chunks);
  const int v = std::max(1, layout.vpp);
  const double embedding = layout.pp_embedding && span.embedding ? 1.0 : 0.0;
  const double loss = layout.pp_loss && span.head ? 1.0 : 0.0;
  if (layout.schedule != Schedule::interleaved || v < 2 || embedding + loss == 0 || span.layers() <= 0) {
    return uniform;
  }
  // Megatron runs each chunk for a group of pp micro-batches before the next chunk, so forward
  // k of the warm-up is chunk (k / pp) mod v. The embedding takes a layer's place in this
  // stage's first chunk and the loss in its last (Megatron's account_for_*_in_pipeline_split):
  // those chunks hold one layer fewer than the others, and which chunks are in flight matters.
  const int pp = std::max(1, layout.pp);
  const double forwards = uniform * v;
  const double slots = (span.layers() + embedding + loss) / v; // layer places per chunk
  const auto forwards_of_chunk = [&](int chunk) {
    double count = 0;
    for (int round = 0; static_cast<double>(round * v + chunk) * pp < forwards; ++round) {
      count += std::clamp(forwards - static_cast<double>(round * v + chunk) * pp, 0.0, static_cast<double>(pp));
    }
    return count;
  };
  const double layers_held = forwards * slots - embedding * forwards_of_chunk(0) - loss * forwards_of_chunk(v - 1);
  return layers_held / span.layers();
}

StageMemory stage_memory(const ModelSpec& model, const cluster::GpuSpec& gpu, const Layout& layout,
                         const TrainingShape& shape, int stage_index, const StageSpan& span,
                         const SoftwareProfile& software) {
  StageMemory memory;
  memory.capacity = gpu.memory_bytes;

  // Model states.
  const StageParams params = stage_params(model, layout, span);
  const double t = std::max(1, layout.tp);
  const double dense = params.tp_split / t + params.replicated;
  const double experts = params.experts / std::max(1, layout.ep * layout.etp);
  // ZeRO shards over the shard group: the whole DP·CP group, or its hybrid-sharding slice.
  const double d = std::max(1, layout.shard_group());
  const double de = std::max(1, layout.expert_shard_group());
  auto sharded = [&](int stage) { return dense / (layout.zero >= stage ? d : 1.0) +
                                         experts / (layout.zero >= stage ? de : 1.0); };
  memory.params = dense + experts;
  memory.expert_params = experts;
  const double copies = layout.schedule == Schedule::dualpipe ? 2.0 : 1.0; // DualPipe: 2 stages
  const double moments = 2.0 * (layout.bf16_moments ? 2.0 : 4.0); // Adam's two, fp32 or bf16
  // The gradient buffer is the tensor the DP group reduces, in the dtype it is reduced in
  // (Megatron-Core's main_grad: fp32 with grad_reduce_in_fp32, the parameters' bf16 without).
  const double grad_bytes = software.grad_reduce_bytes;
  const bool fsdp = layout.zero >= 3 && software.fsdp_fp32_shards;
  if (fsdp) {
    // FSDP: the fp32 shard is the master copy; a transformer block is gathered in bf16 just
    // before use, the next one prefetched, and its bf16 gradients live until reduce-scattered.
    // A model cast to bf16 before sharding has bf16 shards, sharded gradients and (Adam's
    // zeros_like) moments instead, and no master copy anywhere (physics.hpp bf16_parameters).
    const double shard_bytes = software.bf16_parameters ? 2.0 : 4.0;
    memory.weights = copies * shard_bytes * sharded(3) + 3.0 * 2.0 * params.largest_layer;
    if (!layout.reshard) {
      // Not resharded after forward: every layer's gathered bf16 weights stay from its forward
      // to its backward, so at the end of the stage's forward the whole stage is gathered; the
      // bf16 gradient of the layer being reduce-scattered stays on top.
      memory.weights = copies * (shard_bytes * sharded(3) + 2.0 * (dense + experts)) + 2.0 * params.largest_layer;
    }
    memory.grads = copies * (software.bf16_parameters ? 2.0 : grad_bytes) * sharded(2);
    if (software.grad_sync_last_micro_batch && layout.pp == 1 && micro_batches_per_step(layout, shape) > 1) {
      // No gradient sync before the last micro-batch: FSDP2 accumulates every parameter's
      // unsharded gradient, upcast to the reduce dtype, until then (physics.hpp); experts
      // wrapped without a reduce dtype keep theirs in the parameters' dtype.
      const double expert_grad_bytes =
          software.expert_grads_in_param_dtype ? (software.bf16_parameters ? 2.0 : 4.0) : grad_bytes;
      memory.grads = grad_bytes * dense + expert_grad_bytes * experts;
    }
    memory.optimizer = copies * (software.bf16_parameters ? 2.0 * 2.0 : moments) * sharded(1);
  } else {
    memory.weights = copies * 2.0 * sharded(3);
    if (layout.zero >= 3) {
      // ZeRO-3 gathers each module's weights just before use (DeepSpeed: per sub-module) and
      // prefetches the next: two of the largest matrices in bf16 are live at once.
      // Not resharded after forward, the whole stage's gathered weights stay until backward.
      memory.weights += layout.reshard ? 2.0 * 2.0 * params.largest_matrix / t : copies * 2.0 * (dense + experts);
    }
    memory.grads = copies * grad_bytes * sharded(2);
    memory.optimizer = copies * (4.0 + moments) * sharded(1); // fp32 master weights and moments
  }
  if (layout.precision == Precision::fp8) {
    memory.weights += copies * 1.0 * sharded(3); // cached FP8 weights for the GEMMs
  }

  // Activations: the span's stored bytes per micro-batch × in-flight micro-batches, plus the
  // transient working set of one layer being recomputed, plus the head/loss of one micro-batch.
  const Shard shard = shard_of(model, layout, shape);
  double per_micro_batch = 0;
  double transient = 0;
  const auto add_layer_activations = [&](bool moe_layer, double count) {
    if (count <= 0) {
      return;
    }
    const auto act = layer_activation_bytes_of_kind(model, layout, shape, moe_layer, software);
    const double stored = stored_activation_bytes(act, layout.recompute);
    per_micro_batch += count * stored;
    transient = std::max(transient, act.total() - stored);
  };
  const LayerMix mix = layer_mix(model, span);
  add_layer_activations(false, mix.dense);
  add_layer_activations(true, mix.moe);
  if (layout.offload > 0 && mix.dense + mix.moe > 0) {
    // Offloaded layers keep nothing on the GPU but the one whose copy to the host is under way
    // (Megatron-Core's CPU offloading; pp = 1, so this span is every layer).
    const double layers = mix.dense + mix.moe;
    const double offloaded = std::min(static_cast<double>(layout.offload), layers);
    per_micro_batch -= std::max(0.0, offloaded - 1.0) * per_micro_batch / layers;
  }
  const double h = static_cast<double>(model.hidden);
  if (span.embedding && model.dropout) {
    per_micro_batch += shard.tokens() * h / shard.rep; // embedding dropout mask
  }
  double head = 0;
  if (span.head) {
    head = head_bytes(model, shard);
    for (std::int64_t i = 0; i < model.mtp_layers; ++i) {
      add_layer_activations(model.is_moe_layer(model.layers - 1), 1.0);
      // eh_proj input [2h], enorm/hnorm inputs, and the module's own logits.
      per_micro_batch += (2.0 * shard.linear + 4.0) * shard.tokens() * h / shard.rep;
      head += head_bytes(model, shard);
    }
  }
  memory.activations_per_micro_batch = per_micro_batch;
  memory.in_flight =
      in_flight_micro_batches(layout, shape, stage_index, span, overlap_warmup_chunks(model, layout, software));
  memory.activations = memory.in_flight * per_micro_batch + transient + head;

  // Communication buffers: NCCL per process group, pipeline send/recv, MoE dispatch/combine.
  int groups = 0;
  groups += layout.tp > 1 ? 1 : 0;
  groups += layout.dp * layout.cp > 1 ? 1 : 0;
  groups += layout.pp > 1 ? 2 : 0; // previous and next stage
  groups += layout.cp > 1 ? 1 : 0;
  groups += layout.ep > 1 ? 1 : 0;
  groups += layout.etp > 1 ? 1 : 0;
  memory.comm_buffers = groups * k_nccl_bytes_per_group;
  if (layout.pp > 1) {
    memory.comm_buffers += 4.0 * 2.0 * shard.tokens() * h / shard.rep; // send+recv, both ways
  }
  if (model.moe && layout.ep > 1) {
    const double k = static_cast<double>(model.moe->experts_per_token);
    const double padding = expert_rows_per_gpu(layout, k * shard.tokens() / shard.t,
                                               static_cast<double>(model.moe->routed_experts))
                               .padding;
    memory.comm_buffers += 2.0 * k * padding * shard.tokens() * h * 2.0 / shard.rep;
  }
  memory.cuda_context = k_cuda_context_bytes;
  const double live = memory.weights + memory.grads + memory.optimizer + memory.activations +
                      memory.comm_buffers;
  memory.allocator_reserve = k_allocator_reserve_fraction * live;
  memory.other = memory.comm_buffers + memory.cuda_context + memory.allocator_reserve;
  memory.total = live + memory.cuda_context + memory.allocator_reserve;
  return memory;
}

PipelineMemoryPeak peak_stage_memory(const ModelSpec& model, const cluster::GpuSpec& gpu,
                                     const Layout& layout, const TrainingShape& shape) {
  PipelineMemoryPeak peak;
  for (int stage = 0; stage < std::max(1, layout.pp); ++stage) {
    const auto memory = stage_memory(model, gpu, layout, shape, stage,
                                     uniform_stage(model, pipeline_split(layout), stage));
    if (stage == 0 || memory.total > peak.memory.total) {
      peak.stage = stage;
      peak.memory = memory;
    }
  }
  return peak;
}

} // namespace brix::plan
