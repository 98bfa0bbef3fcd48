// The constraints on a serving layout, one function each.
#include <brix/serve/rules.hpp>

#include <brix/plan/physics.hpp>

#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::serve {

namespace {

using Problems = std::vector<Problem>;

/// Collects problems; a detail is formatted only when asked for (the search counts rejections by
/// rule over thousands of shapes and shows one example of each).
struct Collect {
  Problems& out;
  bool details;
  template <typename Detail> void operator()(const char* rule, Detail&& detail) {
    out.push_back({rule, details ? std::string(detail()) : std::string()});
  }
};

/// An instance lives inside one node (a divisor of its GPUs) or spans whole nodes.
void check_tiling(const cluster::NodeGroup& group, const InstanceShape& shape, Collect& add) {
  const int gpus = shape.gpus();
  const int per_node = group.gpus_per_node;
  const bool inside = gpus <= per_node && per_node % gpus == 0;
  const bool whole_nodes = gpus > per_node && gpus % per_node == 0;
  if (!inside && !whole_nodes) {
    add("instance does not tile the nodes", [&] {
      return fmt::format("a {}-GPU instance (tp {} × dp {} × pp {}) is neither a divisor of a {}-GPU node nor "
                         "whole nodes",
                         gpus, shape.tp, shape.dp, shape.pp, per_node);
    });
  } else if (gpus > group.gpus()) {
    add("instance larger than the node group",
        [&] { return fmt::format("a {}-GPU instance needs more than the group's {} GPUs", gpus, group.gpus()); });
  }
}

void check_heads(const model::ModelSpec& model, const InstanceShape& shape, Collect& add) {
  if (model.heads % shape.tp != 0) {
    add("tp does not divide the attention heads", [&] {
      return fmt::format("tp={} does not divide {}'s {} attention heads", shape.tp, model.name, model.heads);
    });
  } else if (!model.mla && model.kv_heads % shape.tp != 0 && shape.tp % model.kv_heads != 0) {
    add("tp and the KV heads do not divide each other", [&] {
      return fmt::format("tp={} and {}'s {} KV heads do not divide each other", shape.tp, model.name, model.kv_heads);
    });
  }
}

void check_pipeline(const model::ModelSpec& model, const InstanceShape& shape, Collect& add) {
  if (shape.pp > model.layers) {
    add("more pipeline stages than layers",
        [&] { return fmt::format("pp={} exceeds {}'s {} layers", shape.pp, model.name, model.layers); });
  }
}

void check_experts(const model::ModelSpec& model, const InstanceShape& shape, Collect& add) {
  if (!model.moe) {
    if (shape.ep != 1 || shape.etp != 1) {
      add("ep/etp on a dense model",
          [&] { return fmt::format("{} has no experts (expected ep=1, etp=1)", model.name); });
    }
    if (shape.dp != 1) {
      add("attention DP on a dense model", [&] {
        return fmt::format("dp={} (attention data parallelism) needs MoE layers; {} is dense (use instances= for "
                           "replicas)",
                           shape.dp, model.name);
      });
    }
    return;
  }
  if (shape.ep * shape.etp != shape.stage_gpus()) {
    add("ep × etp is not tp × dp", [&] {
      return fmt::format("ep {} × etp {} = {} but a stage has tp {} × dp {} = {} GPUs", shape.ep, shape.etp,
                         shape.ep * shape.etp, shape.tp, shape.dp, shape.stage_gpus());
    });
  }
  if (model.moe->routed_experts % shape.ep != 0) {
    add("ep does not divide the experts", [&] {
      return fmt::format("ep={} does not divide {}'s {} routed experts", shape.ep, model.name,
                         model.moe->routed_experts);
    });
  }
}

void check_engine(const cluster::NodeGroup& group, const EngineVersion& engine, const InstanceShape& shape,
                  Collect& add) {
  const auto name = [&] { return fmt::format("{} {}", to_string(engine.engine), engine.version); };
  if (shape.dp > 1 && !engine.dp_attention) {
    add("engine has no attention DP", [&] { return fmt::format("{} has no attention data parallelism", name()); });
  }
  if (shape.dp > 1 && engine.dp_attention_tp1 && shape.tp != 1) {
    add("engine's attention DP needs tp=1",
        [&] { return fmt::format("{} runs attention DP with attention TP 1 only (got tp={})", name(), shape.tp); });
  }
  if (shape.ep > 1 && shape.ep != shape.stage_gpus() && !engine.ep_partial) {
    add("engine runs EP over every GPU or none", [&] {
      return fmt::format("{} runs expert parallelism over all tp × dp = {} GPUs of a stage (got ep={})", name(),
                         shape.stage_gpus(), shape.ep);
    });
  }
  if (shape.pp > 1 && !engine.pipeline) {
    add("engine has no pipeline parallelism", [&] { return fmt::format("{} has no pipeline parallelism", name()); });
  }
  if (shape.dp > 1 && (shape.tp > group.gpus_per_node || group.gpus_per_node % shape.tp != 0)) {
    add("attention-DP rank spans nodes", [&] {
      return fmt::format("with attention DP each rank's tp={} GPUs must sit inside one {}-GPU node (the engines "
                         "place DP ranks per node)",
                         shape.tp, group.gpus_per_node);
    });
  }
  if (shape.pp > 1 && shape.dp > 1) {
    add("pipeline with attention DP",
        [&] { return std::string("pipeline stages with attention data parallelism (no engine runs both)"); });
  }
  if (shape.gpus() > group.gpus_per_node && engine.multi_node == MultiNode::none) {
    add("engine instance spans nodes", [&] {
      return fmt::format("{} instances span nodes only under MPI (mpirun/srun with trtllm-llmapi-launch), which "
                         "brix does not emit; {}-GPU instances fit one node",
                         name(), group.gpus_per_node);
    });
  }
}

} // namespace

std::vector<Problem> shape_problems(const model::ModelSpec& model, const cluster::NodeGroup& group,
                                    const EngineVersion& engine, const InstanceShape& shape, bool details) {
  Problems problems;
  Collect out{problems, details};
  check_tiling(group, shape, out);
  check_heads(model, shape, out);
  check_pipeline(model, shape, out);
  check_experts(model, shape, out);
  check_engine(group, engine, shape, out);
  return problems;
}

std::vector<Problem> setting_problems(const model::ModelSpec& model, const cluster::NodeGroup& group,
                                      const EngineVersion& engine, Mode mode, WeightPrecision weights, int mtp,
                                      bool overlap, int offload) {
  Problems problems;
  Collect add{problems, true};
  const auto name = fmt::format("{} {}", to_string(engine.engine), engine.version);
  if (mode == Mode::disaggregated && !engine.disaggregation) {
    add("engine has no P/D disaggregation",
        [&] { return fmt::format("brix emits no prefill/decode disaggregation for {}", name); });
  }
  if (mtp > 0 && model.mtp_layers <= 0) {
    add("no MTP layers",
        [&] { return fmt::format("mtp={} drafts with the model's MTP layers; {} has none", mtp, model.name); });
  }
  if (mtp > 0 && !engine.mtp) {
    add("engine has no MTP", [&] { return fmt::format("{} has no MTP speculative decoding", name); });
  }
  if (overlap && !engine.overlap) {
    add("engine has no two-batch overlap", [&] { return fmt::format("{} has no two-batch overlap", name); });
  } else if (overlap && !plan::runs_node_level_dispatch(group.gpu)) {
    add("no DeepEP kernels", [&] {
      return fmt::format("overlap=1 runs the two batches' expert exchange inside DeepEP's kernels, which need compute "
                         "capability 9.0 or newer ({}; expected overlap=0)",
                         plan::compute_capability_text(group.gpu));
    });
  }
  if (offload > 0 && !engine.weight_offload) {
    add("engine has no weight offloading", [&] {
      return fmt::format("offload={} needs the layer-group weight offloader; {} has none", offload, name);
    });
  }
  if (offload > 0 && !model.moe) {
    add("no experts to offload", [&] {
      return fmt::format("offload={} moves MoE layers' routed experts; {} has none", offload, model.name);
    });
  }
  if (weights == WeightPrecision::fp8 && group.gpu.fp8_flops <= 0) {
    add("no FP8 tensor cores", [&] {
      return fmt::format("weights=fp8 needs FP8 tensor cores; {} has none (expected weights=bf16)", group.gpu.display);
    });
  }
  if (weights == WeightPrecision::fp4) {
    if (auto problem = fp4_weights_problem(model, group.gpu, engine)) {
      problems.push_back(std::move(*problem));
    }
  }
  return problems;
}

std::optional<Problem> fp4_weights_problem(const model::ModelSpec& model, const cluster::GpuSpec& gpu,
                                           const EngineVersion& engine) {
  if (gpu.fp4_flops > 0) {
    return std::nullopt;
  }
  if (!model.checkpoint_mxfp4) {
    return Problem{"no FP4 tensor cores",
                   fmt::format("weights=fp4 (NVFP4) needs FP4 tensor cores (Blackwell); {} has none, and {}'s checkpoint "
                               "is not MXFP4, the FP4 that engines run weight-only without them (expected weights=fp8)",
                               gpu.display, model.name)};
  }
  if (engine.mxfp4_weight_only) {
    return std::nullopt;
  }
  std::vector<std::string> engines;
  for (const auto& row : engine_versions()) {
    if (row.plannable && row.mxfp4_weight_only) {
      engines.push_back(fmt::format("--engine {} --engine-version {}", to_string(row.engine), row.version));
    }
  }
  return Problem{"engine has no weight-only MXFP4",
                 fmt::format("{} {} does not run {}'s MXFP4 checkpoint on {}, which has no FP4 tensor cores (expected {}, "
                             "which run it weight-only)",
                             to_string(engine.engine), engine.version, model.name, gpu.display,
                             util::join_or(engines))};
}

} // namespace brix::serve
