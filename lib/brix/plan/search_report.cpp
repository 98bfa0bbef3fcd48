#include <brix/plan/search_report.hpp>

#include <brix/plan/plan_file.hpp>

#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::plan {

namespace {
constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;

double round_to(double value, double step) { return std::round(value / step) * step; }
} // namespace

std::string short_layout(const Layout& layout) {
  std::string text = fmt::format("tp{} pp{} dp{}", layout.tp, layout.pp, layout.dp);
  if (layout.cp > 1) {
    text += fmt::format(" cp{}", layout.cp);
  }
  if (layout.ep > 1 || layout.etp > 1) {
    text += fmt::format(" ep{}", layout.ep);
    if (layout.etp > 1) {
      text += fmt::format(" etp{}", layout.etp);
    }
  }
  if (layout.capacity > 0) {
    text += fmt::format(" cap{:g}", layout.capacity); // experts padded to capacity (token dropping)
  }
  if (layout.sp) {
    text += " sp";
  }
  text += fmt::format(" mbs{}", layout.micro_batch);
  if (layout.pp > 1) {
    text += " " + to_string(layout.schedule);
    if (layout.vpp > 1) {
      text += fmt::format("×{}", layout.vpp);
    }
    // The embedding and loss counted as pipeline layers (Megatron's split rule).
    text += layout.pp_embedding ? "+emb" : "";
    text += layout.pp_loss ? "+loss" : "";
  }
  if (layout.recompute != Recompute::none) {
    text += " rc=" + std::string(layout.recompute == Recompute::full            ? "full"
                                 : layout.recompute == Recompute::selective_mlp ? "sel+mlp"
                                                                                : "sel");
  }
  if (layout.zero > 0) {
    text += fmt::format(" zero{}", layout.zero);
  }
  if (layout.shard > 0) {
    text += fmt::format(" shard{}", layout.shard); // hybrid sharding: dp/shard replicas
  }
  if (!layout.reshard) {
    text += " noreshard";
  }
  if (layout.grad_compression == GradCompression::fp8) {
    text += " gc=fp8";
  }
  return text;
}

namespace {

/// How a plan's expert all-to-all runs, as layer_cost costs it: "node-level" (each token crosses
/// the network once per node it reaches, DeepEP/HybridEP) or "all-to-all" (NCCL, every token
/// copy on its own); "" for a plan without one.
std::string expert_dispatch_kind(const Layout& layout, const ReportContext& context) {
  if (!context.model->moe || layout.ep <= 1) {
    return {};
  }
  const bool node_level = software_on(context.options->software, *context.cluster).hierarchical_all_to_all;
  return node_level && layout.capacity <= 0 ? "node-level" : "all-to-all";
}

/// The text report's line on it, with the reason where the plan runs the plain all-to-all.
std::string expert_dispatch_line(const Layout& layout, const ReportContext& context) {
  const auto kind = expert_dispatch_kind(layout, context);
  if (kind.empty()) {
    return {};
  }
  if (kind == "node-level") {
    const auto& first = context.cluster->groups.front();
    return first.nvlink_reach() > first.gpus_per_node
               ? "  expert dispatch: node-level over the NVLink domain, each token sent once per domain it reaches "
                 "(HybridEP)\n"
               : "  expert dispatch: node-level, each token sent over the network once per node it reaches (DeepEP)\n";
  }
  std::string why;
  if (layout.capacity > 0) {
    why = "token dropping pads the experts on Megatron-Core's alltoall dispatcher";
  } else if (const auto problem = node_level_dispatch_problem(*context.cluster); !problem.empty()) {
    why = problem;
  } else {
    why = "the --software profile's dispatcher";
  }
  return fmt::format("  expert dispatch: NCCL all-to-all, every token copy sent on its own: {}\n", why);
}

} // namespace

double cost_per_trillion_tokens(const PlanEstimate& plan, int gpus, double price_per_gpu_hour) {
  const double hours = 1e12 / plan.tokens_per_s / 3600.0;
  return hours * gpus * price_per_gpu_hour;
}

nlohmann::ordered_json plan_to_json(const PlanEstimate& plan, const ReportContext& context) {
  const auto& layout = plan.layout;
  nlohmann::ordered_json json;
  json["layout"] = layout_to_json(layout);
  const auto& m = plan.memory;
  json["memory_gib"] = {{"weights", round_to(m.weights / k_gib, 0.01)},
                        {"grads", round_to(m.grads / k_gib, 0.01)},
                        {"optimizer", round_to(m.optimizer / k_gib, 0.01)},
                        {"activations", round_to(m.activations / k_gib, 0.01)},
                        {"other", round_to(m.other / k_gib, 0.01)},
                        {"total", round_to(m.total / k_gib, 0.01)},
                        {"stage", m.stage}};
  json["step_time_s"] = plan.step.step_s;
  json["tokens_per_s"] = plan.tokens_per_s;
  json["tflops_per_gpu"] = plan.tflops_per_gpu;
  json["mfu"] = plan.mfu;
  json["hfu"] = plan.hfu;
  json["bubble_fraction"] = plan.step.bubble_fraction;
  const auto& c = plan.step.comm;
  json["comm_exposed_s"] = {{"tp", c.tp}, {"pp", c.pp}, {"dp", c.dp}, {"ep", c.ep}, {"cp", c.cp}};
  json["optimizer_s"] = plan.step.optimizer_s;
  if (const auto dispatch = expert_dispatch_kind(layout, context); !dispatch.empty()) {
    json["expert_dispatch"] = dispatch;
  }
  json["critical_stage"] = plan.step.critical_stage;
  if (context.price_per_gpu_hour) {
    json["cost_per_1t_tokens"] =
        cost_per_trillion_tokens(plan, context.cluster->total_gpus(), *context.price_per_gpu_hour);
  }
  return json;
}

nlohmann::ordered_json search_to_json(const SearchResult& result, const ReportContext& context) {
  nlohmann::ordered_json json;
  json["model"] = context.model->name;
  json["cluster"] = context.cluster->name;
  json["gpus"] = result.gpus;
  json["global_batch"] = context.options->shape.global_batch;
  json["seq_len"] = context.options->shape.seq_len;
  json["precision"] = to_string(context.options->precision);
  json["plans"] = nlohmann::ordered_json::array();
  for (const auto& plan : result.plans) {
    json["plans"].push_back(plan_to_json(plan, context));
  }
  json["rejected"] = nlohmann::ordered_json::array();
  for (const auto& group : result.rejected) {
    json["rejected"].push_back({{"reason", group.reason}, {"count", group.count}});
  }
  json["search"] = {{"evaluated", result.evaluated},
                    {"valid", result.valid},
                    {"rebalanced", result.balanced},
                    {"seconds", result.seconds},
                    {"threads", context.options->threads}};
  return json;
}

std::string search_to_text(const SearchResult& result, const ReportContext& context,
                           const util::Style& style) {
  const auto& options = *context.options;
  std::string out;
  out += fmt::format("{} on {} ({} GPUs, costed as {})\n", style.bold(context.model->name),
                     style.bold(context.cluster->name), result.gpus, result.device);
  out += fmt::format("global batch {} × {} tokens, {}; {} layouts searched in {:.2f} s, {} fit\n\n",
                     options.shape.global_batch, options.shape.seq_len, to_string(options.precision),
                     util::with_thousands(result.evaluated), result.seconds,
                     util::with_thousands(result.valid));
  if (result.plans.empty()) {
    out += style.red("no layout fits") + "\n";
  } else {
    std::vector<std::string> header{"#", "layout", "step", "tokens/s", "TFLOP/s/GPU", "MFU", "bubble", "memory/GPU"};
    std::vector<util::Align> align{util::Align::right, util::Align::left, util::Align::right, util::Align::right,
                                   util::Align::right, util::Align::right, util::Align::right, util::Align::right};
    if (context.price_per_gpu_hour) {
      header.emplace_back("$/1T tokens");
      align.push_back(util::Align::right);
    }
    util::Table table(header, align);
    int rank = 1;
    for (const auto& plan : result.plans) {
      std::vector<std::string> row{std::to_string(rank++),
                                   short_layout(plan.layout),
                                   util::human_seconds(plan.step.step_s),
                                   util::with_thousands(static_cast<std::int64_t>(plan.tokens_per_s)),
                                   fmt::format("{:.0f}", plan.tflops_per_gpu),
                                   fmt::format("{:.1f}%", plan.mfu * 100),
                                   fmt::format("{:.1f}%", plan.step.bubble_fraction * 100),
                                   util::gib(plan.memory.total)};
      if (context.price_per_gpu_hour) {
        row.push_back(util::with_thousands(static_cast<std::int64_t>(
            cost_per_trillion_tokens(plan, result.gpus, *context.price_per_gpu_hour))));
      }
      table.add_row(std::move(row));
    }
    out += table.render(2);
    const auto& best = result.plans.front();
    const auto& m = best.memory;
    const auto& c = best.step.comm;
    out += fmt::format("\nbest: {}\n", to_string(best.layout));
    out += fmt::format("  memory (stage {}): weights {}, grads {}, optimizer {}, activations {}, other {} = {}\n",
                       m.stage, util::gib(m.weights), util::gib(m.grads), util::gib(m.optimizer),
                       util::gib(m.activations), util::gib(m.other), util::gib(m.total));
    out += fmt::format("  exposed comm per step: tp {}, pp {}, dp {}, ep {}, cp {}; optimizer {}\n",
                       util::human_seconds(c.tp), util::human_seconds(c.pp), util::human_seconds(c.dp),
                       util::human_seconds(c.ep), util::human_seconds(c.cp),
                       util::human_seconds(best.step.optimizer_s));
    out += expert_dispatch_line(best.layout, context);
    out += fmt::format("  MFU {:.1f}%, HFU {:.1f}%, bubble {:.1f}%\n", best.mfu * 100, best.hfu * 100,
                       best.step.bubble_fraction * 100);
  }
  if (!result.rejected.empty()) {
    out += "\nrejected:\n";
    util::Table table({"reason", "layouts"}, {util::Align::left, util::Align::right});
    constexpr std::size_t k_shown = 12;
    std::int64_t rest = 0;
    for (std::size_t i = 0; i < result.rejected.size(); ++i) {
      if (i < k_shown) {
        table.add_row({result.rejected[i].reason, util::with_thousands(result.rejected[i].count)});
      } else {
        rest += result.rejected[i].count;
      }
    }
    if (rest > 0) {
      table.add_row({fmt::format("{} other reasons (--format json lists all)", result.rejected.size() - k_shown),
                     util::with_thousands(rest)});
    }
    out += table.render(2);
  }
  return out;
}

} // namespace brix::plan
