// The --emit table and its writers: each turns a PlanReport's best plan into one framework's
// input (emit.hpp holds the per-framework formatting).
#include <brix/plan/emit_targets.hpp>

#include <brix/plan/emit.hpp>
#include <brix/plan/physics.hpp>
#include <brix/plan/plan_file.hpp>
#include <brix/plan/render_html.hpp>
#include <brix/util/error.hpp>
#include <brix/util/named.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::plan {

namespace {

EmitContext emit_context(const PlanReport& report) {
  const auto& first = report.cluster.groups.front();
  EmitContext context{&report.model, report.options.shape, report.cluster.total_gpus() / first.gpus_per_node,
                      first.gpus_per_node};
  context.tp_comm_overlap = report.options.software.tp_comm_overlap;
  context.grad_reduce_in_bf16 = report.options.software.grad_reduce_bytes == 2.0;
  context.fp8_param_gather = parameter_gather_bytes(true, report.options.software) == 1.0;
  context.fp8_recipe = std::string(fp8_recipe_name(report.options.software.fp8_recipe));
  context.hierarchical_dispatch = report.options.software.hierarchical_all_to_all;
  context.nvlink_domain = first.nvlink_reach();
  context.ep_overlap = report.options.software.overlap_all_to_all;
  return context;
}

/// Megatron's flags, alone or on a torchrun line: both carry the stage-split flags. They are
/// flags of a plan Megatron-LM can run: when the best plan needs DualPipe, ZB-H1 or FP8 gradient
/// compression, of the best plan without them (PlanReport::megatron), said on stderr.
Emitted megatron_flags(const PlanReport& report, std::string_view target, bool torchrun) {
  auto best = best_plan(report, target);
  Emitted out;
  if (const auto missing = megatron_unsupported(*best.layout); !missing.empty()) {
    const auto needs = fmt::format("{} ({}, step {}) needs {}", best.mixed ? "the mixed plan" : "the best plan",
                                   short_layout(*best.layout), util::human_seconds(best.estimate->step.step_s),
                                   fmt::join(missing, " and "));
    if (!report.megatron) {
      throw JobError(fmt::format("--emit {}: {}, which Megatron-LM cannot run, and no plan it can run fits (--emit yaml "
                                 "writes the plan for brix launch)",
                                 target, needs));
    }
    const auto& alternative = *report.megatron;
    out.warnings.push_back(fmt::format("brix: warning: --emit {}: {}, which Megatron-LM cannot run; these flags are for "
                                       "the best plan it can run ({}, step {})",
                                       target, needs, short_layout(alternative.estimate.layout),
                                       util::human_seconds(alternative.estimate.step.step_s)));
    best = {&alternative.estimate.layout, &alternative.estimate, &alternative.details, false};
  }
  const auto& details = *best.details;
  auto context = emit_context(report);
  // pp_embedding/pp_loss are Megatron's own split rule, written by emit_megatron; Megatron does
  // not take first/last stage sizes with them.
  const auto& layout = *best.layout;
  if (!layout.pp_embedding && !layout.pp_loss) {
    context.split_flags = megatron_split_flags(details, report.model.layers);
  }
  for (const auto& stage : details.stages) {
    context.stage_layers.push_back(stage.last_layer - stage.first_layer + 1);
  }
  // Unequal virtual stages are written as Megatron's pipeline layout, which spells out every
  // stage's layers (emit_megatron): it expresses any split.
  const auto slots = report.model.layers + (layout.pp_embedding ? 1 : 0) + (layout.pp_loss ? 1 : 0);
  const bool spelled_out = layout.schedule == Schedule::interleaved && layout.vpp > 1 &&
                           slots % (static_cast<std::int64_t>(layout.pp) * layout.vpp) != 0;
  if (context.split_flags.empty() && !details.split_is_uniform && !spelled_out) {
    if (details.uniform_step_s <= 0) {
      throw JobError(fmt::format("--emit {}: Megatron's flags cannot express this stage split and the uniform split "
                                 "does not fit in memory (use --emit yaml for the per-stage list)",
                                 target));
    }
    out.warnings.push_back(fmt::format("brix: warning: Megatron's flags cannot express the DP stage split; these flags run "
                                       "the uniform split (step {} instead of {}); --emit yaml writes the per-stage list",
                                       util::human_seconds(details.uniform_step_s),
                                       util::human_seconds(details.balanced_step_s)));
  }
  if (megatron_uses_fsdp(layout)) {
    out.warnings.push_back(fmt::format("brix: warning: --emit {}: Megatron-LM's FSDP (zero={}) asserts "
                                       "CUDA_DEVICE_MAX_CONNECTIONS is not 1: unset it where the job exports it",
                                       target, layout.zero));
  }
  if (megatron_overlaps_experts(layout, context)) {
    out.warnings.push_back(fmt::format("brix: warning: --emit {}: --overlap-moe-expert-parallel-comm runs the expert "
                                       "all-to-all on its own stream: set CUDA_DEVICE_MAX_CONNECTIONS above 1 where "
                                       "the job exports 1",
                                       target));
  }
  out.text = torchrun ? emit_torchrun(layout, context) : emit_megatron(layout, context);
  return out;
}

Emitted write_megatron(const PlanReport& report) { return megatron_flags(report, "megatron", false); }

Emitted write_torchrun(const PlanReport& report) { return megatron_flags(report, "torchrun", true); }

Emitted write_deepspeed(const PlanReport& report) {
  const auto best = best_plan(report, "deepspeed");
  Emitted out{emit_deepspeed(*best.layout, emit_context(report)), {}};
  if (const auto missing = deepspeed_unexpressed(*best.layout); !missing.empty()) {
    out.warnings.push_back(fmt::format("brix: warning: --emit deepspeed: a DeepSpeed config cannot express {}; set them in "
                                       "the training script (model-parallel groups, MoE layers, pipeline module)",
                                       fmt::join(missing, ", ")));
  }
  if (deepspeed_uses_mics(*best.layout)) {
    out.warnings.emplace_back("brix: warning: --emit deepspeed: mics_shard_size needs the model built under "
                              "deepspeed.zero.MiCS_Init, not deepspeed.zero.Init (DeepSpeed's MiCS optimizer asserts "
                              "it)");
  }
  return out;
}

/// plan.yaml, what shard, launch and recover read; a non-uniform split (or stages on node
/// groups) as explicit stages.
Emitted write_plan_yaml(const PlanReport& report) {
  const auto best = best_plan(report, "yaml");
  const auto& d = *best.details;
  PlanFile file;
  file.model = {report.model.name, report.model.source};
  file.cluster = {report.cluster.name, report.cluster.source};
  file.seq_len = report.options.shape.seq_len;
  file.batch = d.batch;
  file.layout = *best.layout;
  if (!d.split_is_uniform || best.mixed) {
    for (const auto& stage : d.stages) {
      file.stages.push_back({stage.first_layer, stage.last_layer, stage.node_group});
    }
  }
  validate_plan(file);
  return {to_yaml_text(file), {}};
}

Emitted write_plan_json(const PlanReport& report) {
  const auto best = best_plan(report, "json");
  auto json = plan_to_json(*best.estimate, report.context());
  json.update(details_to_json(*best.details));
  return {json.dump(2) + "\n", {}};
}

Emitted write_html(const PlanReport& report) { return {plan_html(report), {}}; }

Emitted write_svg(const PlanReport& report) { return {plan_timeline_svg(report), {}}; }

constexpr EmitTarget k_targets[] = {
    {"megatron", "Megatron flags", write_megatron, true},
    {"deepspeed", "a DeepSpeed JSON config", write_deepspeed, false},
    {"torchrun", "a torchrun line", write_torchrun, true},
    {"yaml", "plan.yaml", write_plan_yaml, false},
    {"json", "the best plan's JSON", write_plan_json, false},
    {"html", "an HTML page of the plans", write_html, false},
    {"svg", "the best plan's pipeline timeline in SVG", write_svg, false},
};

std::vector<std::string> target_names() { return util::names_of<EmitTarget>(k_targets); }

} // namespace

std::span<const EmitTarget> emit_targets() { return k_targets; }

const EmitTarget& find_emit_target(std::string_view name) {
  return util::find_named<EmitTarget>(k_targets, name, "--emit", "target");
}

std::string emit_target_names(std::string_view separator) { return fmt::format("{}", fmt::join(target_names(), separator)); }

std::string emit_target_descriptions() {
  std::vector<std::string> descriptions;
  for (const auto& target : k_targets) {
    descriptions.emplace_back(target.description);
  }
  return util::join_or(descriptions);
}

BestPlan best_plan(const PlanReport& report, std::string_view target) {
  if (!report.search.plans.empty()) {
    return {&report.search.plans.front().layout, &report.search.plans.front(), &report.details.front(), false};
  }
  if (report.mixed_details) {
    const auto& mixed = *report.mixed->best;
    return {&mixed.layout, &mixed.estimate, &*report.mixed_details, true};
  }
  throw JobError(fmt::format("--emit {}: no layout fits, nothing to emit", target));
}

} // namespace brix::plan
