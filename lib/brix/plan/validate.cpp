#include <brix/plan/validate.hpp>

#include <brix/plan/batch_split.hpp>

#include <fmt/format.h>

namespace brix::plan {

namespace {
inline constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;

Problem problem(ProblemKind kind, std::int64_t a = 0, std::int64_t b = 0) { return Problem{kind, a, b}; }
} // namespace

std::optional<Problem> check_sizes(const Layout& layout) {
  if (layout.tp < 1 || layout.pp < 1 || layout.dp < 1 || layout.ep < 1 || layout.etp < 1 || layout.cp < 1 ||
      layout.micro_batch < 1 || layout.vpp < 1 || layout.zero < 0 || layout.zero > 3) {
    return problem(ProblemKind::bad_size);
  }
  return std::nullopt;
}

int tp_domain(const cluster::NodeGroup& group) {
  // Without NVLink (PCIe cards) GPUs of one node still reach each other peer to peer: TP may
  // span the node, at PCIe speed (the cost model prices that).
  return group.nvlink_reach();
}

std::optional<Problem> check_tp_domain(const ValidationTarget& target, int tp) {
  // A TP group of consecutive ranks stays inside a domain only if it divides the domain.
  if (tp > target.nvlink_domain || target.nvlink_domain % tp != 0) {
    return problem(ProblemKind::tp_crosses_node, tp, target.nvlink_domain);
  }
  return std::nullopt;
}

std::optional<Problem> check_tp_heads(const model::ModelSpec& model, int tp) {
  if (model.heads % tp != 0) {
    return problem(ProblemKind::tp_heads, tp);
  }
  // Megatron-Core requires the query groups (KV heads) to be a multiple of TP; MLA caches one
  // latent per token and splits no KV heads.
  if (!model.mla && model.kv_heads > 0 && model.kv_heads % tp != 0) {
    return problem(ProblemKind::tp_kv_heads, tp);
  }
  return std::nullopt;
}

std::optional<Problem> check_context_parallel(const TrainingShape& shape, int cp) {
  if (cp > 1 && shape.seq_len % (2 * cp) != 0) {
    return problem(ProblemKind::cp_sequence, cp);
  }
  return std::nullopt;
}

std::optional<Problem> check_pipeline_depth(const model::ModelSpec& model, int pp) {
  if (pp > model.layers) {
    return problem(ProblemKind::pp_layers, pp);
  }
  return std::nullopt;
}

std::optional<Problem> check_world(const ValidationTarget& target, int tp, int cp, int pp, std::optional<int> dp) {
  const std::int64_t model_parallel = static_cast<std::int64_t>(tp) * cp * pp;
  if (target.gpus % model_parallel != 0 || (dp && model_parallel * *dp != target.gpus)) {
    return problem(ProblemKind::world_size, model_parallel, dp.value_or(0));
  }
  return std::nullopt;
}

std::optional<Problem> check_experts(const model::ModelSpec& model, int ep, int etp) {
  if (model.moe ? model.moe->routed_experts % ep != 0 : ep != 1 || etp != 1) {
    return problem(ProblemKind::ep_experts, ep);
  }
  return std::nullopt;
}

std::optional<Problem> check_expert_groups(int tp, int cp, int dp, int ep, int etp) {
  if ((tp * cp * dp) % (ep * etp) != 0) {
    return problem(ProblemKind::ep_group, ep * etp, tp * cp * dp);
  }
  return std::nullopt;
}

std::optional<Problem> check_sequence_parallel(const model::ModelSpec& model, int tp, bool sp) {
  // Megatron-Core's MoE layers with tensor parallelism run only with sequence parallelism.
  if (model.moe && tp > 1 && !sp) {
    return problem(ProblemKind::moe_tp_needs_sp, tp);
  }
  return std::nullopt;
}

std::optional<Problem> check_batch(const TrainingShape& shape, int dp, int micro_batch) {
  if (!BatchSplit::of(shape.global_batch, micro_batch, dp)) {
    return problem(ProblemKind::batch, dp, micro_batch);
  }
  return std::nullopt;
}

std::optional<Problem> check_schedule(const model::ModelSpec& model, const ValidationTarget& target, const Layout& layout,
                                      std::int64_t micro_batches) {
  if (layout.pp == 1 && layout.schedule != Schedule::one_f_one_b) {
    return problem(ProblemKind::schedule_needs_pipeline);
  }
  if (layout.schedule == Schedule::interleaved) {
    // Megatron of 2024 gives every virtual stage the same number of layers (the embedding and
    // loss counted when asked: check_pipeline_split); 2025's pipeline layouts take any split with
    // at least one layer per virtual stage. The micro-batches must be a multiple of PP.
    const bool extras = layout.pp_embedding || layout.pp_loss;
    const std::int64_t virtual_stages = static_cast<std::int64_t>(layout.pp) * layout.vpp;
    const bool splits = extras || (target.software.uneven_virtual_stages ? model.layers >= virtual_stages
                                                                         : model.layers % virtual_stages == 0);
    if (layout.vpp < 2 || !splits) {
      return problem(ProblemKind::vpp_layers, layout.pp, layout.vpp);
    }
    if (micro_batches % layout.pp != 0) {
      return problem(ProblemKind::interleave_batches, layout.pp, layout.vpp);
    }
  } else if (layout.vpp > 1) {
    return problem(ProblemKind::vpp_needs_interleaved, layout.vpp);
  }
  if (layout.schedule == Schedule::dualpipe && (layout.pp % 2 != 0 || micro_batches < 2 * layout.pp)) {
    return problem(ProblemKind::dualpipe, layout.pp);
  }
  return std::nullopt;
}

std::optional<Problem> check_precision(const ValidationTarget& target, Precision precision) {
  if (precision == Precision::fp8 && !target.fp8) {
    return problem(ProblemKind::fp8_unsupported);
  }
  return std::nullopt;
}

std::optional<Problem> check_pipeline_split(const model::ModelSpec& model, const Layout& layout) {
  const int extras = (layout.pp_embedding ? 1 : 0) + (layout.pp_loss ? 1 : 0);
  if (extras == 0) {
    return std::nullopt;
  }
  const std::int64_t slots = model.layers + extras;
  const std::int64_t chunks = static_cast<std::int64_t>(layout.pp) * (layout.schedule == Schedule::interleaved ? layout.vpp : 1);
  // Every (virtual) stage gets slots/chunks, one of which is the embedding (first) or the loss
  // (last). A physical stage needs a decoder layer: at least 2 slots per stage. Interleaved, a
  // virtual stage of one slot may hold the embedding or the loss alone (Megatron builds it with
  // no transformer layer); the physical stage still runs its other VPP − 1 chunks' layers.
  const bool interleaved = layout.schedule == Schedule::interleaved && layout.vpp > 1;
  if (layout.pp < 2 || slots % chunks != 0 || slots / layout.pp < 2 || (!interleaved && slots / chunks < 2)) {
    return problem(ProblemKind::pp_split, slots, layout.pp < 2 ? 1 : chunks);
  }
  return std::nullopt;
}

std::optional<Problem> check_software(const ValidationTarget& target, const Layout& layout) {
  const auto& software = target.software;
  if (layout.sp && layout.tp > 1 && !software.sequence_parallel) {
    return problem(ProblemKind::software_lacks, static_cast<int>(SoftwareFeature::sequence_parallel));
  }
  if (layout.grad_compression == GradCompression::fp8 && !software.fp8_grad_compression) {
    return problem(ProblemKind::software_lacks, static_cast<int>(SoftwareFeature::fp8_grad_compression));
  }
  if ((layout.schedule == Schedule::zb_h1 || layout.schedule == Schedule::dualpipe) && !software.zero_bubble_schedules) {
    return problem(ProblemKind::software_lacks, static_cast<int>(SoftwareFeature::zero_bubble_schedule));
  }
  return std::nullopt;
}

std::optional<Problem> check_offload(const model::ModelSpec& model, const Layout& layout) {
  // TransformerConfig refuses "pipeline parallelism with CPU offloading" and an offload count
  // outside 0 to num_layers − 1.
  if (layout.offload > 0 && (layout.pp > 1 || layout.offload >= model.layers)) {
    return problem(ProblemKind::cpu_offload, layout.offload, layout.pp);
  }
  return std::nullopt;
}

std::optional<Problem> check_capacity(const model::ModelSpec& model, const Layout& layout) {
  if (layout.capacity > 0 && !model.moe) {
    return problem(ProblemKind::expert_capacity);
  }
  return std::nullopt;
}

std::optional<Problem> check_sharding(const Layout& layout) {
  if (layout.shard > 0 && layout.zero < 1) {
    return problem(ProblemKind::shard_zero, 1, layout.zero);
  }
  if (!layout.reshard && layout.zero < 3) {
    return problem(ProblemKind::shard_zero, 3, layout.zero);
  }
  if (layout.shard > 0 && (layout.dp % layout.shard != 0 || layout.expert_dp() % layout.replicas() != 0)) {
    return problem(ProblemKind::shard_group, layout.shard, layout.dp);
  }
  return std::nullopt;
}

std::string describe_sharding(const Problem& problem) {
  if (problem.kind == ProblemKind::shard_zero) {
    return problem.a == 1 ? fmt::format("shard= with zero={} (hybrid sharding splits the ZeRO shards over a smaller "
                                        "group: it needs zero=1, 2 or 3)",
                                        problem.b)
                          : fmt::format("reshard=0 with zero={} (only ZeRO-3 gathers parameters to keep: it needs "
                                        "zero=3)",
                                        problem.b);
  }
  return fmt::format("shard={} does not divide DP={} into whole replicas, or the replicas do not divide the expert-DP "
                     "group (tp·dp·cp/(ep·etp))",
                     problem.a, problem.b);
}

std::vector<Problem> validate(const model::ModelSpec& model, const ValidationTarget& target, const Layout& layout,
                              const TrainingShape& shape) {
  if (const auto sizes = check_sizes(layout)) {
    return {*sizes};
  }
  std::vector<Problem> problems;
  auto add = [&](std::optional<Problem> found) {
    if (found) {
      problems.push_back(*found);
    }
  };
  add(check_world(target, layout.tp, layout.cp, layout.pp, layout.dp));
  add(check_tp_domain(target, layout.tp));
  add(check_tp_heads(model, layout.tp));
  add(check_context_parallel(shape, layout.cp));
  add(check_pipeline_depth(model, layout.pp));
  add(check_experts(model, layout.ep, layout.etp));
  add(check_expert_groups(layout.tp, layout.cp, layout.dp, layout.ep, layout.etp));
  add(check_sequence_parallel(model, layout.tp, layout.sp));
  add(check_batch(shape, layout.dp, layout.micro_batch));
  if (!check_pipeline_depth(model, layout.pp)) {
    add(check_schedule(model, target, layout, micro_batches_per_step(layout, shape)));
    add(check_pipeline_split(model, layout));
  }
  add(check_precision(target, layout.precision));
  add(check_software(target, layout));
  add(check_offload(model, layout));
  add(check_capacity(model, layout));
  add(check_sharding(layout));
  return problems;
}

bool blocks_costing(const Problem& problem) {
  return problem.kind == ProblemKind::bad_size || problem.kind == ProblemKind::pp_layers ||
         problem.kind == ProblemKind::tp_heads || problem.kind == ProblemKind::ep_experts;
}

std::string_view name(ProblemKind kind) {
  switch (kind) {
  case ProblemKind::bad_size: return "invalid_size";
  case ProblemKind::world_size: return "world_mismatch";
  case ProblemKind::tp_crosses_node: return "tp_crosses_node";
  case ProblemKind::tp_heads: return "tp_heads";
  case ProblemKind::tp_kv_heads: return "tp_kv_heads";
  case ProblemKind::cp_sequence: return "cp_seq";
  case ProblemKind::pp_layers: return "pp_layers";
  case ProblemKind::ep_experts: return "ep_experts";
  case ProblemKind::ep_group: return "etp_ep_world";
  case ProblemKind::moe_tp_needs_sp: return "moe_tp_needs_sp";
  case ProblemKind::batch: return "batch_divisibility";
  case ProblemKind::schedule_needs_pipeline: return "schedule_needs_pipeline";
  case ProblemKind::vpp_needs_interleaved: return "vpp_needs_interleaved";
  case ProblemKind::vpp_layers: return "vpp_layers";
  case ProblemKind::pp_split: return "pp_split";
  case ProblemKind::interleave_batches: return "interleaved_batches";
  case ProblemKind::dualpipe: return "dualpipe";
  case ProblemKind::fp8_unsupported: return "fp8_unsupported";
  case ProblemKind::software_lacks: return "software_lacks";
  case ProblemKind::cpu_offload: return "cpu_offload";
  case ProblemKind::expert_capacity: return "expert_capacity";
  case ProblemKind::shard_group: return "shard_group";
  case ProblemKind::shard_zero: return "shard_zero";
  case ProblemKind::out_of_memory: return "out_of_memory";
  case ProblemKind::bound: return "bound";
  }
  return "?";
}

std::string describe_family(const Problem& problem, const ProblemContext& context) {
  const auto& model = *context.model;
  switch (problem.kind) {
  case ProblemKind::tp_crosses_node:
    if (problem.a <= problem.b) {
      return fmt::format("TP={} does not divide the {} GPUs of an NVLink domain (a TP group would cross it)",
                         problem.a, problem.b);
    }
    return fmt::format("TP={} crosses nodes ({} GPUs per NVLink domain)", problem.a, problem.b);
  case ProblemKind::tp_heads:
  case ProblemKind::tp_kv_heads:
    return fmt::format("TP={} does not divide the attention heads ({} heads, {} KV heads)", problem.a, model.heads,
                       model.kv_heads);
  case ProblemKind::cp_sequence:
    return fmt::format("CP={}: sequence length {} is not divisible by 2×CP", problem.a, context.shape.seq_len);
  case ProblemKind::pp_layers:
    return fmt::format("PP={} exceeds the {} layers", problem.a, model.layers);
  case ProblemKind::world_size:
    return fmt::format("TP×CP×PP×DP does not equal the {} GPUs of the cluster", context.target.gpus);
  case ProblemKind::ep_experts:
    return model.moe ? fmt::format("EP={} does not divide the {} routed experts", problem.a, model.moe->routed_experts)
                     : fmt::format("EP={} on a dense model (no experts)", problem.a);
  case ProblemKind::ep_group:
    return "EP×ETP does not divide TP×CP×DP (expert groups must tile each pipeline stage)";
  case ProblemKind::batch:
    return fmt::format("global batch {} not divisible by DP×micro-batch", context.shape.global_batch);
  case ProblemKind::schedule_needs_pipeline:
    return "pipeline schedule without pipeline parallelism (PP=1)";
  case ProblemKind::interleave_batches:
    return "interleaved schedule: micro-batches per step not a multiple of PP";
  case ProblemKind::vpp_layers:
    if (problem.b < 2) {
      return fmt::format("interleaved schedule with VPP={} (it needs VPP ≥ 2)", problem.b);
    }
    if (context.target.software.uneven_virtual_stages) {
      return fmt::format("PP={} × VPP={}: {} virtual stages for the {} layers (each needs at least one)", problem.a,
                         problem.b, problem.a * problem.b, model.layers);
    }
    return fmt::format("PP={} × VPP={}: the {} layers are not divisible by PP×VPP = {} (Megatron of 2024 gives every "
                       "virtual stage the same number of layers; --software modern takes uneven ones)",
                       problem.a, problem.b, model.layers, problem.a * problem.b);
  case ProblemKind::pp_split:
    if (problem.b < 2) {
      return "pp_embedding/pp_loss without pipeline parallelism (they count the embedding and loss as pipeline layers)";
    }
    return fmt::format("pp_embedding/pp_loss: the {} layers with the embedding and loss counted ({}) do not split into "
                       "{} (PP×VPP) equal stages, each pipeline stage with a decoder layer (Megatron's "
                       "--account-for-embedding/loss-in-pipeline-split)",
                       model.layers, problem.a, problem.b);
  case ProblemKind::vpp_needs_interleaved:
    return fmt::format("VPP={} without the interleaved schedule (virtual stages need schedule=interleaved)", problem.a);
  case ProblemKind::dualpipe:
    return "DualPipe needs an even PP and at least 2×PP micro-batches";
  case ProblemKind::moe_tp_needs_sp:
    return fmt::format("MoE with TP={} and sequence parallelism off (Megatron-Core MoE with TP > 1 needs sp=1)",
                       problem.a);
  case ProblemKind::fp8_unsupported:
    return "precision fp8 on a GPU without FP8 tensor cores (use precision=bf16)";
  case ProblemKind::software_lacks: {
    const char* what = problem.a == static_cast<int>(SoftwareFeature::sequence_parallel) ? "sequence parallelism"
                       : problem.a == static_cast<int>(SoftwareFeature::fp8_grad_compression)
                           ? "FP8 gradient compression (brix's collectives: --software brix)"
                           : "zero-bubble schedules (ZB-H1, DualPipe: --software brix, deepseek-2024 or fsdp2-2025)";
    return fmt::format("--software {} cannot run {}", context.target.software.name, what);
  }
  case ProblemKind::cpu_offload:
    return problem.b > 1 ? fmt::format("offload={} with PP={} (Megatron-Core offloads activations only without "
                                       "pipeline parallelism)", problem.a, problem.b)
                         : fmt::format("offload={}: not fewer than the {} layers", problem.a, model.layers);
  case ProblemKind::expert_capacity:
    return "an expert capacity factor on a dense model (capacity= sizes the routed experts' inputs; drop it)";
  case ProblemKind::shard_group:
  case ProblemKind::shard_zero:
    return describe_sharding(problem);
  case ProblemKind::bad_size:
    return "a parallel degree, the micro-batch or vpp below 1, or zero outside 0–3";
  case ProblemKind::out_of_memory:
    return problem.a == 0
               ? fmt::format("out of memory by < 4 GiB (GPU has {:.0f} GiB)", context.memory_bytes / k_gib)
               : fmt::format("out of memory by ≥ {} GiB (GPU has {:.0f} GiB)", problem.a, context.memory_bytes / k_gib);
  case ProblemKind::bound:
    return fmt::format("cannot beat the top {} (compute lower bound)", problem.a);
  }
  return "?";
}

std::string describe(const Problem& problem, const ProblemContext& context, const Layout& layout) {
  const auto& model = *context.model;
  switch (problem.kind) {
  case ProblemKind::world_size:
    if (layout.world() <= context.target.gpus && context.target.gpus % (layout.tp * layout.cp * layout.pp) != 0) {
      return fmt::format("TP×CP×PP = {}×{}×{} = {} does not divide the cluster's {} GPUs (no data-parallel size "
                         "fills it)",
                         layout.tp, layout.cp, layout.pp, layout.tp * layout.cp * layout.pp, context.target.gpus);
    }
    return fmt::format("TP×CP×PP×DP = {}×{}×{}×{} = {} ranks, but the cluster has {} GPUs", layout.tp, layout.cp,
                       layout.pp, layout.dp, layout.world(), context.target.gpus);
  case ProblemKind::tp_kv_heads:
    return fmt::format("TP={} does not divide the {} key/value heads (Megatron-Core needs the query groups to be a "
                       "multiple of TP)",
                       layout.tp, model.kv_heads);
  case ProblemKind::batch:
    return fmt::format("global batch {} is not divisible by DP×micro-batch = {}", context.shape.global_batch,
                       static_cast<std::int64_t>(layout.dp) * layout.micro_batch);
  case ProblemKind::bad_size:
    return fmt::format("tp={} pp={} dp={} ep={} etp={} cp={} mbs={} vpp={} zero={} (every degree, the micro-batch and "
                       "vpp must be >= 1, zero 0-3)",
                       layout.tp, layout.pp, layout.dp, layout.ep, layout.etp, layout.cp, layout.micro_batch,
                       layout.vpp, layout.zero);
  case ProblemKind::interleave_batches:
    return fmt::format("{} micro-batches per step is not a multiple of PP={} (the interleaved schedule needs them to be)",
                       micro_batches_per_step(layout, context.shape), layout.pp);
  default:
    return describe_family(problem, context);
  }
}

} // namespace brix::plan
