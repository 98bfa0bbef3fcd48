#include <brix/plan/plan_run.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/model/params.hpp>
#include <brix/plan/emit.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/mixed.hpp>
#include <brix/plan/optimizer_advice.hpp>
#include <brix/plan/plan_file.hpp>
#include <brix/plan/request_check.hpp>
#include <brix/plan/search_report.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <mutex>
#include <unistd.h>

namespace brix::plan {

namespace {

constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;

/// Progress bar on stderr, drawn only after the search has run for a second.
class Progress {
public:
  explicit Progress(std::ostream& err, bool enabled) : m_err(err), m_enabled(enabled), m_start(clock::now()) {}
  ~Progress() {
    if (m_drawn) {
      m_err << "\r\x1b[K" << std::flush;
    }
  }
  /// `fraction` of phase `phase` ("searching", "details") done.
  void update(double fraction, std::string_view phase = "searching") {
    if (!m_enabled) {
      return;
    }
    const auto elapsed = std::chrono::duration<double>(clock::now() - m_start).count();
    if (elapsed < 1.0) {
      return;
    }
    std::lock_guard lock(m_mutex);
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    m_err << fmt::format("\r{:<9} [{}{}] {:3.0f}% {:.1f} s", phase, std::string(static_cast<std::size_t>(filled), '#'),
                         std::string(static_cast<std::size_t>(width - filled), ' '), fraction * 100, elapsed)
          << std::flush;
    m_drawn = true;
  }

private:
  using clock = std::chrono::steady_clock;
  std::ostream& m_err;
  bool m_enabled;
  clock::time_point m_start;
  std::mutex m_mutex;
  bool m_drawn = false;
};

nlohmann::ordered_json details_to_json(const PlanDetails& details, const RecomputeReport* recompute) {
  nlohmann::ordered_json json;
  json["stages"] = nlohmann::ordered_json::array();
  for (const auto& stage : details.stages) {
    json["stages"].push_back({{"first_layer", stage.first_layer},
                              {"last_layer", stage.last_layer},
                              {"node_group", stage.node_group},
                              {"time_s", stage.time_s},
                              {"memory_gib", stage.memory_bytes / k_gib}});
  }
  // The uniform split may not fit at all: null, not a made-up gain.
  const bool uniform_fits = details.uniform_step_s > 0;
  json["stage_split"] = {{"uniform_step_s", uniform_fits ? nlohmann::ordered_json(details.uniform_step_s) : nlohmann::ordered_json()},
                         {"balanced_step_s", details.balanced_step_s},
                         {"gain", uniform_fits ? nlohmann::ordered_json(1.0 - details.balanced_step_s / details.uniform_step_s)
                                               : nlohmann::ordered_json()}};
  if (recompute) {
    nlohmann::ordered_json options = nlohmann::ordered_json::array();
    for (const auto& option : recompute->options) {
      options.push_back({{"name", option.name},
                         {"activation_gib", option.activation_bytes / k_gib},
                         {"time_s", option.time_s},
                         {"fits", option.fits}});
    }
    json["recompute_plan"] = {{"stage", recompute->stage},
                              {"budget_gib_per_micro_batch", recompute->budget_bytes / k_gib},
                              {"options", options},
                              {"recomputed", recompute->recomputed},
                              {"claim_83pct_less_memory_time_added", recompute->claim_time_added}};
  }
  const auto& c = details.checkpoint;
  json["checkpoint"] = {{"interval_s", c.interval_s},   {"young_s", c.young_s},     {"size_gib", details.checkpoint_bytes / k_gib},
                        {"write_s", c.write_s},         {"job_mtbf_s", c.job_mtbf_s}, {"overhead", c.overhead},
                        {"goodput", c.goodput},         {"storage_write_gb_per_s", c.storage.write_bytes_per_s / 1e9},
                        {"storage_assumed", c.storage.assumed}, {"storage_source", c.storage.source}};
  json["batch"] = {{"global", details.batch.global}, {"micro", details.batch.micro}, {"accumulation", details.batch.accumulation}};
  return json;
}

std::string details_to_text(const PlanDetails& details, std::int64_t layers) {
  std::string out;
  out += "\nstage split:\n";
  util::Table table({"stage", "layers", "node group", "time/micro-batch", "memory/GPU"},
                    {util::Align::right, util::Align::left, util::Align::left, util::Align::right, util::Align::right});
  for (std::size_t s = 0; s < details.stages.size(); ++s) {
    const auto& stage = details.stages[s];
    table.add_row({std::to_string(s), fmt::format("{}–{}", stage.first_layer, stage.last_layer), stage.node_group,
                   util::human_seconds(stage.time_s), util::gib(stage.memory_bytes)});
  }
  out += table.render(2);
  if (details.split_is_uniform) {
    out += "  the DP split equals the uniform one\n";
  } else {
    out += details.uniform_step_s > 0
               ? fmt::format("  DP split: step {} vs {} uniform ({:.1f}% faster)\n", util::human_seconds(details.balanced_step_s),
                             util::human_seconds(details.uniform_step_s),
                             100.0 * (1.0 - details.balanced_step_s / details.uniform_step_s))
               : fmt::format("  DP split: step {}; the uniform split does not fit in memory\n",
                             util::human_seconds(details.balanced_step_s));
    const auto flags = megatron_split_flags(details, layers);
    out += flags.empty() ? "  Megatron cannot express it: the per-stage list goes to plan.yaml\n"
                         : fmt::format("  Megatron: {}\n", fmt::join(flags, " "));
  }
  if (details.recompute) {
    const auto& r = *details.recompute;
    out += fmt::format("\nrecomputation (stage {}, budget {} per micro-batch):\n", r.stage, util::gib(r.budget_bytes));
    util::Table options({"policy", "activations", "time/micro-batch", "fits"},
                        {util::Align::left, util::Align::right, util::Align::right, util::Align::left});
    for (const auto& option : r.options) {
      options.add_row({option.name, util::gib(option.activation_bytes), util::human_seconds(option.time_s), option.fits ? "yes" : "no"});
    }
    out += options.render(2);
    out += r.claim_time_added >= 0
               ? fmt::format("  83% less activation memory costs {:.1f}% more time here (the seed claimed ≤ 12%)\n",
                             r.claim_time_added * 100)
               : "  83% less activation memory is not reachable by recomputation here\n";
  }
  const auto& c = details.checkpoint;
  out += fmt::format("\ncheckpoint: {} per save, written in {} at {:.0f} GB/s{}; job MTBF {}; every {} (Young {}); overhead "
                     "{:.1f}%, goodput {:.1f}%\n",
                     util::gib(details.checkpoint_bytes), util::human_seconds(c.write_s), c.storage.write_bytes_per_s / 1e9,
                     c.storage.assumed ? fmt::format(" ({})", c.storage.source) : std::string(),
                     util::human_seconds(c.job_mtbf_s), util::human_seconds(c.interval_s), util::human_seconds(c.young_s),
                     c.overhead * 100, c.goodput * 100);
  out += fmt::format("batch: global {} = micro-batch {} × accumulation {} × DP {}\n", details.batch.global, details.batch.micro,
                     details.batch.accumulation, details.batch.data_parallel);
  return out;
}

/// Lower bound on GPUs for model states alone (18 B/param fully sharded).
std::string capacity_hint(const model::ModelSpec& model, const cluster::ClusterSpec& cluster) {
  const auto counts = model::count_parameters(model);
  const double states = 18.0 * static_cast<double>(counts.total + counts.mtp);
  double smallest = INFINITY;
  for (const auto& group : cluster.groups) {
    smallest = std::min(smallest, group.gpu.memory_bytes);
  }
  const double usable = smallest * 0.9;
  return fmt::format("model states alone (18 B/param, {:.1f} TiB) need at least {:.0f} GPUs of {:.0f} GiB even fully sharded; "
                     "the cluster has {}",
                     states / (k_gib * 1024), std::ceil(states / usable), smallest / k_gib, cluster.total_gpus());
}

void write_output(const std::string& text, const std::string& path, std::ostream& out) {
  if (path.empty()) {
    out << text;
    return;
  }
  const std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file || !(file << text) || !file.flush()) {
      throw InputError(fmt::format("{}: cannot write the file", path));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    throw InputError(fmt::format("{}: cannot rename {} into place", path, temporary));
  }
}

} // namespace

std::int64_t propose_global_batch(std::int64_t seq_len, int gpus) {
  // DP = GPUs / (TP·CP·PP) with TP and CP powers of two: the odd part of every DP size divides
  // the odd part of the GPU count, so odd·2^k sequences divide evenly for every DP size up to
  // that power of two. k puts the batch nearest the token target (in ratio).
  const double target = 4.0 * 1024 * 1024 / static_cast<double>(seq_len);
  std::int64_t batch = std::max(1, gpus);
  while (batch % 2 == 0) {
    batch /= 2;
  }
  while (static_cast<double>(batch) < target / std::sqrt(2.0)) {
    batch *= 2;
  }
  while (batch * 8 < gpus) {
    batch *= 2;
  }
  return batch;
}

int run_plan(const PlanRequest& request, std::ostream& out, std::ostream& err) {
  check_plan_request(request);
  if (!request.emit.empty() && request.format != util::Format::text) {
    throw InputError("--format: not with --emit (--emit chooses the output: Megatron flags, a DeepSpeed JSON config, a "
                     "torchrun line, plan.yaml or the best plan's JSON)");
  }
  const auto model = model::load_model(request.model);
  const auto cluster = cluster::select_cluster(request.cluster, k_default_cluster);
  SearchOptions options;
  options.shape.seq_len = request.seq_len > 0 ? request.seq_len : model.default_seq_len;
  const bool proposed = request.global_batch <= 0;
  options.shape.global_batch = proposed ? propose_global_batch(options.shape.seq_len, cluster.total_gpus()) : request.global_batch;
  options.precision = parse_precision(request.precision, "--precision");
  options.software = software_by_name(request.software);
  if (!request.layout.empty()) {
    options.fixed = parse_layout_query(request.layout);
    if (options.fixed.precision) {
      options.precision = *options.fixed.precision;
    }
    if (options.fixed.flash_attention) {
      options.software.flash_attention = *options.fixed.flash_attention;
    }
  }
  options.top_k = std::max(1, request.top);
  options.threads = std::max(1, request.threads);
  if (options.precision == Precision::fp8) {
    for (const auto& group : cluster.groups) {
      if (group.gpu.fp8_flops <= 0) {
        throw InputError(fmt::format("--precision fp8: node group '{}' has {} GPUs without FP8 tensor cores (expected bf16 "
                                     "there)", group.name, group.gpu.display));
      }
    }
  }
  int nodes = 0;
  for (const auto& group : cluster.groups) {
    nodes += group.nodes;
  }
  const auto optimizer = optimizer_advice({options.shape.global_batch, options.shape.seq_len, nodes, request.base_lr,
                                           request.base_batch, request.lamb_betas});
  Progress progress(err, request.progress);
  options.progress = [&progress](double fraction) { progress.update(fraction); };

  options.balance_stages = true; // rank on the split the plan runs with
  auto result = search_layouts(model, cluster, options);
  ReportContext context{&model, &cluster, &options, request.price};
  std::vector<PlanDetails> details;
  for (std::size_t i = 0; i < result.plans.size(); ++i) {
    details.push_back(refine_plan(model, cluster, options, request.checkpoint, result.plans[i]));
    progress.update(static_cast<double>(i + 1) / static_cast<double>(result.plans.size()), "details");
  }
  std::optional<LayoutVerdict> verdict;
  std::optional<Completion> completion;
  if (!request.layout.empty() && result.plans.empty()) {
    completion = closest_completion(model, cluster, options, options.fixed);
    verdict = explain_layout(model, cluster, options, completion->layout);
    if (verdict->problems.empty()) {
      // That completion runs on its own, yet the search found none: say what stopped it.
      for (std::size_t i = 0; i < std::min<std::size_t>(3, result.rejected.size()); ++i) {
        verdict->problems.push_back(fmt::format("{} ({} layouts with these fields)", result.rejected[i].reason,
                                                util::with_thousands(result.rejected[i].count)));
      }
      if (verdict->problems.empty()) {
        verdict->problems.emplace_back("no layout with these fields exists on this cluster");
      }
    }
  }
  std::optional<MixedResult> mixed;
  if (!cluster.homogeneous()) {
    mixed = plan_mixed(model, cluster, options);
  }
  std::optional<PlanDetails> mixed_plan_details;
  if (mixed && mixed->best) {
    mixed_plan_details = mixed_details(model, cluster, options, request.checkpoint, *mixed->best);
  }

  if (!request.emit.empty()) {
    // The homogeneous search's best, or on a mixed cluster where only the stage-assignment
    // planner finds one, its plan (stages pinned to node groups).
    const bool use_mixed = result.plans.empty() && mixed_plan_details.has_value();
    if (result.plans.empty() && !use_mixed) {
      throw JobError(fmt::format("--emit {}: no layout fits, nothing to emit", request.emit));
    }
    const Layout& best_layout = use_mixed ? mixed->best->layout : result.plans.front().layout;
    const PlanDetails& best_details = use_mixed ? *mixed_plan_details : details.front();
    EmitContext emit{&model, options.shape, cluster.total_gpus() / cluster.groups.front().gpus_per_node,
                     cluster.groups.front().gpus_per_node};
    std::string text;
    if (request.emit == "megatron" || request.emit == "torchrun") {
      // torchrun starts pretrain_gpt.py with the same Megatron flags, the split flags included.
      emit.split_flags = megatron_split_flags(best_details, model.layers);
      if (emit.split_flags.empty() && !best_details.split_is_uniform) {
        if (best_details.uniform_step_s <= 0) {
          throw JobError(fmt::format("--emit {}: Megatron's flags cannot express this stage split and the uniform split "
                                     "does not fit in memory (use --emit yaml for the per-stage list)",
                                     request.emit));
        }
        err << fmt::format("brix: warning: Megatron's flags cannot express the DP stage split; these flags run the "
                           "uniform split (step {} instead of {}); --emit yaml writes the per-stage list\n",
                           util::human_seconds(best_details.uniform_step_s), util::human_seconds(best_details.balanced_step_s));
      }
      text = request.emit == "megatron" ? emit_megatron(best_layout, emit) : emit_torchrun(best_layout, emit);
    } else if (request.emit == "deepspeed") {
      text = emit_deepspeed(best_layout, emit);
      if (const auto missing = deepspeed_unexpressed(best_layout); !missing.empty()) {
        err << fmt::format("brix: warning: --emit deepspeed: a DeepSpeed config cannot express {}; set them in the "
                           "training script (model-parallel groups, MoE layers, pipeline module)\n",
                           fmt::join(missing, ", "));
      }
    } else if (request.emit == "yaml") {
      // plan.yaml, what shard, launch and recover read; a non-uniform split (or stages on node
      // groups) as explicit stages.
      PlanFile file;
      file.model = {model.name, model.source};
      file.cluster = {cluster.name, cluster.source};
      file.seq_len = options.shape.seq_len;
      const auto& d = best_details;
      file.batch = d.batch;
      file.layout = best_layout;
      if (!d.split_is_uniform || use_mixed) {
        for (const auto& stage : d.stages) {
          file.stages.push_back({stage.first_layer, stage.last_layer, stage.node_group});
        }
      }
      validate_plan(file);
      if (!request.output.empty()) {
        save_plan_file(file, request.output);
        return 0;
      }
      text = to_yaml_text(file);
    } else if (request.emit == "json") {
      nlohmann::ordered_json json;
      if (use_mixed) {
        json = plan_to_json(mixed->best->estimate, context);
      } else {
        json = plan_to_json(result.plans.front(), context);
      }
      json.update(details_to_json(best_details, best_details.recompute ? &*best_details.recompute : nullptr));
      text = json.dump(2) + "\n";
    } else {
      const std::vector<std::string> names{"megatron", "deepspeed", "torchrun", "yaml", "json"};
      throw InputError(fmt::format("--emit: unknown target '{}'{} (expected megatron, deepspeed, torchrun, yaml or json)",
                                   request.emit, util::did_you_mean(request.emit, names)));
    }
    write_output(text, request.output, out);
    return 0;
  }

  for (const auto& warning : optimizer_warnings(optimizer)) {
    err << warning << '\n';
  }
  if (request.format != util::Format::text) {
    auto json = search_to_json(result, context);
    json["optimizer"] = optimizer_json(optimizer);
    json["global_batch_proposed"] = proposed;
    for (std::size_t i = 0; i < result.plans.size(); ++i) {
      const auto& d = details[i];
      json["plans"][i].update(details_to_json(d, d.recompute ? &*d.recompute : nullptr));
    }
    if (verdict) {
      json["layout_explained"] = to_string(completion->layout);
      json["layout_filled"] = completion->filled;
      json["layout_problems"] = verdict->problems;
      if (verdict->estimate) {
        json["layout_estimate"] = plan_to_json(*verdict->estimate, context);
      }
    }
    if (result.plans.empty()) {
      json["capacity"] = capacity_hint(model, cluster);
    }
    if (mixed) {
      json["mixed_search"] = {{"covers", mixed_search_coverage()},
                              {"not_searched", mixed->not_searched.empty() ? nlohmann::ordered_json()
                                                                           : nlohmann::ordered_json(mixed->not_searched)},
                              {"evaluated", mixed->evaluated},
                              {"fitting", mixed->fitting}};
      json["mixed"] = nullptr;
      if (mixed->best) {
        // The same fields as plans[], on the whole cluster.
        auto& m = json["mixed"] = plan_to_json(mixed->best->estimate, context);
        m["uniform_step_time_s"] =
            mixed->best->uniform_step_s ? nlohmann::ordered_json(*mixed->best->uniform_step_s) : nlohmann::ordered_json();
        m.update(details_to_json(*mixed_plan_details, mixed_plan_details->recompute ? &*mixed_plan_details->recompute : nullptr));
      }
      auto& subset = json["homogeneous_subset"] = {{"node_group", mixed->homogeneous_group}, {"gpus", mixed->homogeneous_gpus}};
      subset["layout"] = nullptr;
      subset["step_time_s"] = nullptr;
      if (mixed->homogeneous) {
        const auto plan = plan_to_json(*mixed->homogeneous, context);
        for (const char* key : {"layout", "step_time_s", "tokens_per_s", "mfu", "memory_gib"}) {
          subset[key] = plan[key];
        }
      }
    }
    util::emit_document(out, json, request.format);
    return verdict ? 1 : 0;
  }

  const util::Style style{util::use_colour(STDOUT_FILENO)};
  out << search_to_text(result, context, style);
  if (proposed) {
    out << fmt::format("(global batch {} proposed: near 4M tokens per step, and a multiple of the odd part of the {} GPUs so "
                       "that data-parallel sizes divide it; set it with --global-batch)\n",
                       options.shape.global_batch, cluster.total_gpus());
  }
  if (!result.plans.empty()) {
    out << details_to_text(details.front(), model.layers);
  } else {
    out << "\n" << capacity_hint(model, cluster) << "\n";
  }
  if (verdict) {
    out << fmt::format("\nlayout {} cannot run:\n", to_string(completion->layout));
    for (const auto& problem : verdict->problems) {
      out << "  - " << problem << "\n";
    }
    if (!completion->filled.empty()) {
      out << fmt::format("  (fields not given, set to the completion closest to running: {})\n",
                         fmt::join(completion->filled, ", "));
    }
  }
  if (mixed) {
    out << "\nmixed cluster: stages on node groups, layers split by speed\n";
    out << fmt::format("  mixed search covers: {}\n", mixed_search_coverage());
    if (mixed->best) {
      const auto& m = *mixed->best;
      out << fmt::format("  best: {}: step {}, {} tokens/s, MFU {:.1f}%, HFU {:.1f}%, bubble {:.1f}%, memory {} (stage {}) "
                         "(uniform split: {})\n",
                         short_layout(m.layout), util::human_seconds(m.step_s),
                         util::with_thousands(static_cast<std::int64_t>(m.tokens_per_s)), m.mfu * 100, m.estimate.hfu * 100,
                         m.estimate.step.bubble_fraction * 100, util::gib(m.estimate.memory.total), m.estimate.memory.stage,
                         m.uniform_step_s ? util::human_seconds(*m.uniform_step_s) : std::string("does not fit"));
      out << details_to_text(*mixed_plan_details, model.layers);
    } else if (!mixed->not_searched.empty()) {
      out << fmt::format("  not searched: --layout asks for {}\n", mixed->not_searched);
    } else {
      out << (mixed->evaluated == 0
                  ? std::string("  no layout of the mixed search matches --layout and tiles every node group\n")
                  : fmt::format("  no stage assignment fits ({} layouts tried, none within memory)\n", mixed->evaluated));
    }
    out << fmt::format("  largest homogeneous subset ({}, {} GPUs): {}\n", mixed->homogeneous_group, mixed->homogeneous_gpus,
                       mixed->homogeneous ? fmt::format("{} step {}", short_layout(mixed->homogeneous->layout),
                                                        util::human_seconds(mixed->homogeneous->step.step_s))
                                          : std::string("no layout fits"));
  }
  out << optimizer_text(optimizer);
  // A search that finds nothing is still a report (exit 0); a layout asked for that cannot run
  // is a failed request (exit 1).
  return verdict ? 1 : 0;
}

} // namespace brix::plan
