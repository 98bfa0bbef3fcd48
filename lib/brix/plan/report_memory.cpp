// Per-stage memory of one layout on a cluster (`brix plan --layout ...`).
#include <brix/plan/report.hpp>

#include <brix/model/params.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace brix::plan {

namespace {

/// Node groups covering GPUs [first, first + count) when GPUs are numbered group by group.
PlacedStage place(const cluster::ClusterSpec& cluster, int first, int count) {
  PlacedStage placed;
  int begin = 0;
  for (const auto& group : cluster.groups) {
    const int end = begin + group.gpus();
    if (first < end && first + count > begin) {
      if (placed.group.empty() || group.gpu.memory_bytes < placed.gpu.memory_bytes) {
        placed.gpu = group.gpu;
      }
      placed.gpus_per_node = placed.group.empty() ? group.gpus_per_node
                                                  : std::min(placed.gpus_per_node, group.gpus_per_node);
      const int domain = tp_domain(group);
      placed.nvlink_domain = placed.group.empty() ? domain : std::min(placed.nvlink_domain, domain);
      placed.group += (placed.group.empty() ? "" : "+") + group.name;
    }
    begin = end;
  }
  return placed;
}

} // namespace

bool LayoutMemoryReport::fits() const {
  if (!valid() || stages.empty()) {
    return false;
  }
  return std::all_of(stages.begin(), stages.end(),
                     [](const PlacedStage& stage) { return stage.memory.fits(); });
}

const PlacedStage* LayoutMemoryReport::tightest() const {
  const PlacedStage* worst = nullptr;
  for (const auto& stage : stages) {
    if (worst == nullptr || stage.memory.total / stage.memory.capacity >
                                worst->memory.total / worst->memory.capacity) {
      worst = &stage;
    }
  }
  return worst;
}

LayoutMemoryReport layout_memory_report(const model::ModelSpec& model,
                                        const cluster::ClusterSpec& cluster, const Layout& layout,
                                        const TrainingShape& shape, const SoftwareProfile& software) {
  LayoutMemoryReport report;
  report.layout = layout;
  report.shape = shape;
  report.cluster_gpus = cluster.total_gpus();
  report.gpus_used = layout.world();
  for (const auto& group : cluster.groups) {
    report.cluster_memory_bytes += group.gpus() * group.gpu.memory_bytes;
  }
  const auto counts = model::count_parameters(model);
  report.grad_bytes = software.grad_reduce_bytes;
  report.model_state_bytes_total =
      model_state_bytes_per_param(report.grad_bytes) * static_cast<double>(counts.total + counts.mtp);
  report.micro_batches = micro_batches_per_step(layout, shape);

  // A layout may use fewer GPUs than the cluster has, never more.
  const int world = report.gpus_used <= report.cluster_gpus ? report.gpus_used : report.cluster_gpus;
  const int per_stage = layout.tp * layout.dp * layout.cp;
  const PlacedStage all = place(cluster, 0, std::max(1, std::min(world, report.gpus_used)));
  // fp8 must be supported by every GPU used, not only the smallest one.
  bool fp8 = true;
  for (int stage = 0; stage < layout.pp && per_stage > 0; ++stage) {
    fp8 = fp8 && place(cluster, stage * per_stage, per_stage).gpu.fp8_flops > 0;
  }
  const ValidationTarget target{world, all.nvlink_domain, fp8};
  report.problems = validate(model, target, layout, shape);
  if (!report.valid()) {
    const ProblemContext context{&model, shape, target, all.gpu.memory_bytes};
    for (const auto& problem : report.problems) {
      report.messages.push_back(describe(problem, context, layout));
    }
    return report;
  }
  for (int stage = 0; stage < layout.pp; ++stage) {
    PlacedStage placed = place(cluster, stage * per_stage, per_stage);
    placed.stage = stage;
    placed.span = uniform_stage(model, pipeline_split(layout), stage);
    placed.memory = stage_memory(model, placed.gpu, layout, shape, stage, placed.span, software);
    report.stages.push_back(std::move(placed));
  }
  return report;
}

nlohmann::ordered_json layout_memory_json(const LayoutMemoryReport& report) {
  const auto& layout = report.layout;
  nlohmann::ordered_json doc;
  doc["layout"] = {{"tp", layout.tp}, {"pp", layout.pp}, {"dp", layout.dp}, {"ep", layout.ep},
                   {"etp", layout.etp}, {"cp", layout.cp}, {"sp", layout.sp},
                   {"micro_batch", layout.micro_batch}, {"vpp", layout.vpp},
                   {"schedule", to_string(layout.schedule)},
                   {"recompute", to_string(layout.recompute)}, {"zero", layout.zero},
                   {"precision", to_string(layout.precision)},
                   {"grad_compression", to_string(layout.grad_compression)},
                   {"flash_attention", layout.flash_attention},
                   {"grads", report.grad_bytes == 2.0 ? "bf16" : "fp32"}};
  if (layout.shard > 0) {
    doc["layout"]["shard"] = layout.shard;
  }
  if (!layout.reshard) {
    doc["layout"]["reshard"] = false;
  }
  doc["seq_len"] = report.shape.seq_len;
  doc["global_batch"] = report.shape.global_batch;
  doc["micro_batches_per_step"] = report.micro_batches;
  doc["gpus_used"] = report.gpus_used;
  doc["cluster_gpus"] = report.cluster_gpus;
  doc["valid"] = report.valid();
  if (!report.valid()) {
    doc["invalid_reason"] = std::string(name(report.problems.front().kind));
    doc["invalid_message"] = report.messages.front();
    auto& all = doc["problems"] = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < report.problems.size(); ++i) {
      all.push_back({{"reason", name(report.problems[i].kind)}, {"message", report.messages[i]}});
    }
  }
  doc["fits"] = report.fits();
  doc["model_state_bytes_total"] = report.model_state_bytes_total;
  doc["cluster_memory_bytes"] = report.cluster_memory_bytes;
  doc["stages"] = nlohmann::ordered_json::array();
  for (const auto& stage : report.stages) {
    const auto& m = stage.memory;
    doc["stages"].push_back({{"stage", stage.stage},
                             {"first_layer", stage.span.first_layer},
                             {"last_layer", stage.span.last_layer},
                             {"embedding", stage.span.embedding},
                             {"head", stage.span.head},
                             {"node_group", stage.group},
                             {"gpu", stage.gpu.id},
                             {"params_per_gpu", m.params},
                             {"in_flight_micro_batches", m.in_flight},
                             {"bytes", {{"weights", m.weights},
                                        {"grads", m.grads},
                                        {"optimizer", m.optimizer},
                                        {"activations", m.activations},
                                        {"comm_buffers", m.comm_buffers},
                                        {"cuda_context", m.cuda_context},
                                        {"allocator_reserve", m.allocator_reserve},
                                        {"other", m.other},
                                        {"total", m.total},
                                        {"capacity", m.capacity}}},
                             {"fits", m.fits()}});
  }
  return doc;
}

std::string layout_memory_text(const LayoutMemoryReport& report, const util::Style& style) {
  const auto& layout = report.layout;
  std::string out = fmt::format(
      "{} {} — {} of {} GPUs; global batch {} × seq {}, {} micro-batches of {} per step\n",
      style.bold("layout"), to_string(layout), report.gpus_used, report.cluster_gpus,
      report.shape.global_batch, report.shape.seq_len, report.micro_batches, layout.micro_batch);
  if (!report.valid()) {
    for (const auto& message : report.messages) {
      out += fmt::format("  {} invalid layout: {}\n", style.red("verdict:"), message);
    }
    return out;
  }
  util::Table table({"stage", "layers", "group", "weights", "grads", "optimizer", "activations",
                     "other", "total", "of", "fits"},
                    {util::Align::right, util::Align::left, util::Align::left, util::Align::right,
                     util::Align::right, util::Align::right, util::Align::right, util::Align::right,
                     util::Align::right, util::Align::right, util::Align::left});
  for (const auto& stage : report.stages) {
    const auto& m = stage.memory;
    std::string layers = fmt::format("{}-{}", stage.span.first_layer, stage.span.last_layer);
    if (stage.span.embedding) {
      layers += " +emb";
    }
    if (stage.span.head) {
      layers += " +head";
    }
    table.add_row({std::to_string(stage.stage), layers, stage.group, util::gib(m.weights),
                   util::gib(m.grads), util::gib(m.optimizer), util::gib(m.activations),
                   util::gib(m.other), util::gib(m.total), util::gib(m.capacity),
                   m.fits() ? style.green("yes") : style.red("no")});
  }
  out += table.render(2);
  const auto* worst = report.tightest();
  if (report.fits()) {
    out += fmt::format("  {} fits: the fullest GPU (stage {}, {}) uses {} of {} ({:.0f}%)\n",
                       style.green("verdict:"), worst->stage, worst->group,
                       util::gib(worst->memory.total), util::gib(worst->memory.capacity),
                       100.0 * worst->memory.total / worst->memory.capacity);
  } else {
    out += fmt::format("  {} does not fit: stage {} ({}) needs {} per GPU, a {} has {}\n",
                       style.red("verdict:"), worst->stage, worst->group,
                       util::gib(worst->memory.total), worst->gpu.display,
                       util::gib(worst->memory.capacity));
  }
  constexpr double k_tib = 1024.0 * 1024.0 * 1024.0 * 1024.0;
  out += fmt::format("  model states ({:g} B/param, MTP included) total {:.1f} TiB before any "
                     "sharding; the cluster has {:.1f} TiB of GPU memory\n",
                     model_state_bytes_per_param(report.grad_bytes), report.model_state_bytes_total / k_tib, report.cluster_memory_bytes / k_tib);
  return out;
}

int exit_code(const MemoryReport& report) { return report.memory.fits() ? 0 : 1; }

nlohmann::ordered_json to_json(const MemoryReport& report) {
  nlohmann::ordered_json doc;
  doc["model"] = to_json(report.model);
  doc["cluster"] = cluster_summary_json(report.cluster);
  doc["memory"] = layout_memory_json(report.memory);
  return doc;
}

std::string to_text(const MemoryReport& report, const util::Style& style) {
  return to_text(report.model, style) + '\n' + cluster_summary_text(report.cluster, style) + '\n' +
         layout_memory_text(report.memory, style);
}

} // namespace brix::plan
