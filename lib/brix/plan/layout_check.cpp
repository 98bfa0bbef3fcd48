// check_layout and its messages (declared in plan/memory.hpp).
#include <brix/plan/memory.hpp>

#include <fmt/format.h>

namespace brix::plan {

using model::ModelSpec;

LayoutCheck check_layout(const ModelSpec& model, const Layout& layout, const TrainingShape& shape,
                         int world_gpus, int gpus_per_node) {
  if (layout.tp < 1 || layout.pp < 1 || layout.dp < 1 || layout.ep < 1 || layout.etp < 1 ||
      layout.cp < 1 || layout.micro_batch < 1 || layout.vpp < 1 || layout.zero < 0 ||
      layout.zero > 3) {
    return LayoutCheck::invalid_size;
  }
  if (layout.world() != world_gpus) {
    return LayoutCheck::world_mismatch;
  }
  if (model.heads % layout.tp != 0) {
    return LayoutCheck::tp_heads;
  }
  if (model.kv_heads % layout.tp != 0) {
    return LayoutCheck::tp_kv_heads;
  }
  if (layout.tp > gpus_per_node || gpus_per_node % layout.tp != 0) {
    return LayoutCheck::tp_crosses_node;
  }
  if (!model.moe ? layout.ep != 1 || layout.etp != 1
                 : model.moe->routed_experts % layout.ep != 0) {
    return LayoutCheck::ep_experts;
  }
  if ((layout.tp * layout.dp * layout.cp) % (layout.ep * layout.etp) != 0) {
    return LayoutCheck::etp_ep_world;
  }
  if (layout.pp > model.layers) {
    return LayoutCheck::pp_layers;
  }
  const std::int64_t seq = shape.seq_len > 0 ? shape.seq_len : model.default_seq_len;
  if (layout.cp > 1 && seq % (2 * layout.cp) != 0) {
    return LayoutCheck::cp_seq;
  }
  if (shape.global_batch > 0 &&
      shape.global_batch % (static_cast<std::int64_t>(layout.micro_batch) * layout.dp) != 0) {
    return LayoutCheck::batch_divisibility;
  }
  if (layout.vpp > 1 && (layout.schedule != Schedule::interleaved ||
                         model.layers % (static_cast<std::int64_t>(layout.pp) * layout.vpp) != 0)) {
    return LayoutCheck::vpp_invalid;
  }
  if ((layout.schedule == Schedule::interleaved && (layout.vpp < 2 || layout.pp < 2)) ||
      (layout.schedule == Schedule::dualpipe && (layout.pp < 2 || layout.pp % 2 != 0)) ||
      (layout.schedule == Schedule::zb_h1 && layout.pp < 2)) {
    return LayoutCheck::schedule_invalid;
  }
  if (layout.schedule == Schedule::interleaved &&
      micro_batches_per_step(layout, shape) % layout.pp != 0) {
    return LayoutCheck::interleaved_batches;
  }
  if (model.moe && layout.tp > 1 && !layout.sp) {
    return LayoutCheck::moe_tp_needs_sp;
  }
  return LayoutCheck::none;
}

LayoutCheck check_layout_gpu(const ModelSpec& model, const Layout& layout,
                             const TrainingShape& shape, int world_gpus,
                             const cluster::GpuSpec& gpu, int gpus_per_node) {
  const auto reason = check_layout(model, layout, shape, world_gpus, gpus_per_node);
  if (reason != LayoutCheck::none) {
    return reason;
  }
  if (layout.precision == Precision::fp8 && gpu.fp8_flops <= 0) {
    return LayoutCheck::fp8_unsupported;
  }
  return LayoutCheck::none;
}

std::string_view to_string(LayoutCheck reason) {
  switch (reason) {
  case LayoutCheck::none: return "none";
  case LayoutCheck::invalid_size: return "invalid_size";
  case LayoutCheck::world_mismatch: return "world_mismatch";
  case LayoutCheck::tp_heads: return "tp_heads";
  case LayoutCheck::tp_kv_heads: return "tp_kv_heads";
  case LayoutCheck::tp_crosses_node: return "tp_crosses_node";
  case LayoutCheck::ep_experts: return "ep_experts";
  case LayoutCheck::etp_ep_world: return "etp_ep_world";
  case LayoutCheck::pp_layers: return "pp_layers";
  case LayoutCheck::cp_seq: return "cp_seq";
  case LayoutCheck::batch_divisibility: return "batch_divisibility";
  case LayoutCheck::vpp_invalid: return "vpp_invalid";
  case LayoutCheck::interleaved_batches: return "interleaved_batches";
  case LayoutCheck::schedule_invalid: return "schedule_invalid";
  case LayoutCheck::moe_tp_needs_sp: return "moe_tp_needs_sp";
  case LayoutCheck::fp8_unsupported: return "fp8_unsupported";
  }
  return "?";
}

std::string explain(LayoutCheck reason, const ModelSpec& model, const Layout& layout,
                    const TrainingShape& shape, int world_gpus, int gpus_per_node) {
  const std::int64_t seq = shape.seq_len > 0 ? shape.seq_len : model.default_seq_len;
  switch (reason) {
  case LayoutCheck::none:
    return "the layout is valid";
  case LayoutCheck::invalid_size:
    return fmt::format("tp={} pp={} dp={} ep={} etp={} cp={} mbs={} vpp={} zero={} "
                       "(every degree, the micro-batch and vpp must be >= 1, zero 0-3)",
                       layout.tp, layout.pp, layout.dp, layout.ep, layout.etp, layout.cp,
                       layout.micro_batch, layout.vpp, layout.zero);
  case LayoutCheck::world_mismatch:
    return fmt::format("tp·pp·dp·cp = {}·{}·{}·{} = {} GPUs, but the cluster has {} "
                       "(tp·pp·dp·cp must equal the GPUs used)",
                       layout.tp, layout.pp, layout.dp, layout.cp, layout.world(), world_gpus);
  case LayoutCheck::tp_heads:
    return fmt::format("tp={} does not divide the {} attention heads (tp must divide heads)",
                       layout.tp, model.heads);
  case LayoutCheck::tp_kv_heads:
    return fmt::format("tp={} does not divide the {} key/value heads (tp must divide the "
                       "query groups)", layout.tp, model.kv_heads);
  case LayoutCheck::tp_crosses_node:
    return fmt::format("tp={} does not fit the {} GPUs of a node (tp must divide the GPUs per "
                       "node: tensor parallelism stays on NVLink)", layout.tp, gpus_per_node);
  case LayoutCheck::ep_experts:
    if (!model.moe) {
      return fmt::format("ep={} etp={} on a dense model (expert parallelism needs routed "
                         "experts; use ep=1, etp=1)", layout.ep, layout.etp);
    }
    return fmt::format("ep={} does not divide the {} routed experts (ep must divide experts)",
                       layout.ep, model.moe->routed_experts);
  case LayoutCheck::etp_ep_world:
    return fmt::format("ep·etp = {} does not divide tp·dp·cp = {} (expert groups must tile the "
                       "GPUs of a pipeline stage)", layout.ep * layout.etp,
                       layout.tp * layout.dp * layout.cp);
  case LayoutCheck::pp_layers:
    return fmt::format("pp={} exceeds the {} decoder layers (every stage needs a layer)",
                       layout.pp, model.layers);
  case LayoutCheck::cp_seq:
    return fmt::format("seq_len={} is not divisible by 2·cp = {} (context parallelism splits "
                       "the sequence into 2·cp balanced chunks)", seq, 2 * layout.cp);
  case LayoutCheck::batch_divisibility:
    return fmt::format("global batch {} is not a multiple of micro_batch·dp = {}·{} (global "
                       "batch = micro-batch × accumulation × dp)", shape.global_batch,
                       layout.micro_batch, layout.dp);
  case LayoutCheck::vpp_invalid:
    return fmt::format("vpp={} with schedule {} and {} layers over pp={} (vpp > 1 needs the "
                       "interleaved schedule and layers divisible by pp·vpp: Megatron gives every "
                       "virtual stage the same number of layers)", layout.vpp,
                       to_string(layout.schedule), model.layers, layout.pp);
  case LayoutCheck::interleaved_batches:
    return fmt::format("{} micro-batches per step is not a multiple of pp={} (the interleaved "
                       "schedule needs m to be a multiple of pp)",
                       micro_batches_per_step(layout, shape), layout.pp);
  case LayoutCheck::schedule_invalid:
    return fmt::format("schedule {} with pp={} vpp={} (interleaved needs pp >= 2 and vpp >= 2; "
                       "zb-h1 needs pp >= 2; dualpipe needs an even pp >= 2)",
                       to_string(layout.schedule), layout.pp, layout.vpp);
  case LayoutCheck::moe_tp_needs_sp:
    return fmt::format("MoE with tp={} and sequence parallelism off (Megatron-core MoE with "
                       "tp > 1 needs sp=1)", layout.tp);
  case LayoutCheck::fp8_unsupported:
    return "precision fp8 on a GPU without FP8 tensor cores (use precision=bf16)";
  }
  (void)world_gpus;
  return std::string(to_string(reason));
}

} // namespace brix::plan
