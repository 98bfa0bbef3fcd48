#include <brix/plan/calibration.hpp>

#include <brix/cluster/gpu_catalog.hpp>
#include <brix/cluster/loader.hpp>
#include <brix/model/bounds.hpp>
#include <brix/model/loader.hpp>
#include <brix/model/params.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/paths.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>

namespace brix::plan {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> k_file_keys{"brix_calibration", "source", "set", "urls", "flops", "runs"};
const std::vector<std::string> k_run_keys{"id",         "model",   "gpu",      "gpus",   "gpus_per_node",
                                          "nvlink_domain", "nics", "seq_len",  "global_batch", "local_batch", "precision",
                                          "layout",     "software", "fp8_recipe", "dispatcher", "ep_overlap",
                                          "tp_comm_overlap", "fp8_param_gather", "overlap_grad_reduce", "loss_all_reduce",
                                          "routing", "grad_reduce", "router_padding_for_fp8",
                                          "mtp_layers", "cuda_graph_scope",
                                          "attention_kernel", "context_parallel", "attention_unpad", "metric",
                                          "published",
                                          "quote",      "note"};
const std::vector<std::string> k_metrics{"step_s", "tokens_per_s_per_gpu", "tflops_per_gpu", "mfu"};

/// The value of a setting that names one of `names`; else the house error at its line: "unknown
/// <what> '<value>' (<expected>)".
std::string one_of(const util::DocNode& node, std::string_view what, std::initializer_list<std::string_view> names,
                   std::string_view expected) {
  auto name = node.as_string();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    node.fail(fmt::format("unknown {} '{}'", what, name), expected);
  }
  return name;
}

/// The switches a run's recipe set against its software profile's defaults.
void read_recipe_settings(const util::DocNode& node, CalibrationRun& run) {
  if (const auto dispatcher = node.find("dispatcher")) {
    const auto name =
        one_of(*dispatcher, "token dispatcher", {"alltoall", "deepep", "hybridep"}, "alltoall, deepep or hybridep");
    run.hierarchical_all_to_all = name != "alltoall";
    run.hybridep = name == "hybridep";
    if (const auto& gpu = cluster::find_gpu(run.gpu); *run.hierarchical_all_to_all && !runs_node_level_dispatch(gpu)) {
      dispatcher->fail(fmt::format("dispatcher: {} has no internode kernels on {}", name, compute_capability_text(gpu)),
                       "alltoall below compute capability 9.0");
    }
  }
  if (const auto overlap = node.find("ep_overlap")) {
    run.overlap_all_to_all = overlap->as_bool();
  }
  if (const auto overlap = node.find("tp_comm_overlap")) {
    run.tp_comm_overlap = overlap->as_bool();
  }
  // Megatron-Core's --fp8-param-gather, torchao's enable_fsdp_float8_all_gather: sharded
  // weights gathered as FP8 (1 B per parameter).
  if (const auto gather = node.find("fp8_param_gather")) {
    run.fp8_param_gather = gather->as_bool();
  }
  // Megatron's --overlap-grad-reduce, NeMo's optim.overlap_grad_sync. Under the distributed
  // optimizer brix costs the parameter all-gather in the same window (data_parallel_cost.cpp), so
  // --overlap-param-gather has no switch of its own at ZeRO-1/2.
  if (const auto overlap = node.find("overlap_grad_reduce")) {
    run.overlap_grad_reduce = overlap->as_bool();
  }
  // The trainer's loss function all-reduces every micro-batch's loss over DP (NeMo 2's
  // MaskedTokenLossReduction) where the software profile's framework does not, or the reverse.
  if (const auto loss = node.find("loss_all_reduce")) {
    run.loss_all_reduce = loss->as_bool();
  }
  if (const auto routing = node.find("routing")) {
    run.balanced_routing = one_of(*routing, "routing", {"learned", "balanced"}, "learned or balanced") == "balanced";
  }
  // Megatron-Core's --moe-router-padding-for-fp8 (--moe-router-padding-for-quantization in
  // core 0.16): the routing map is padded so every expert's rows are FP8-aligned, and
  // TEGroupedMLP's Fp8Padding copies nothing (physics.hpp fp8_expert_row_padding).
  if (const auto padding = node.find("router_padding_for_fp8")) {
    run.router_padding_for_fp8 = padding->as_bool();
  }
  if (const auto grads = node.find("grad_reduce")) {
    run.grad_reduce_bytes = one_of(*grads, "gradient precision", {"bf16", "fp32"}, "bf16 or fp32") == "bf16" ? 2.0 : 4.0;
  }
  if (const auto graphs = node.find("cuda_graph_scope")) {
    const auto expected = "a list of attn, mlp, moe, moe_router, moe_preprocess, layer, full_iteration";
    if (!graphs->is_sequence() || graphs->elements().empty()) {
      graphs->fail("cuda_graph_scope is not a list of scopes", expected);
    }
    CudaGraphScopes scopes;
    for (const auto& element : graphs->elements()) {
      const auto name = element.as_string();
      if (!add_cuda_graph_scope(scopes, name)) {
        element.fail(fmt::format("unknown CUDA graph scope '{}'", name), expected);
      }
    }
    if (const auto problem = cuda_graph_scopes_problem(scopes); !problem.empty()) {
      graphs->fail(fmt::format("cuda_graph_scope: {}", problem), "Megatron-Core's rules: moe_preprocess with moe_router, not moe with moe_router");
    }
    // Megatron-Core captures a MoE layer's whole MLP side only with static shapes
    // (transformer_config.py: 'moe cuda graph is only supported with drop-padding MoE.').
    if (scopes.moe && !parse_layout_query(run.layout).capacity) {
      graphs->fail("cuda_graph_scope: moe without an expert capacity",
                   "Megatron-Core captures the MoE side only padded to capacity: capacity=C in the layout");
    }
    run.cuda_graphs = scopes;
  }
  if (const auto kernel = node.find("attention_kernel")) {
    run.attention_kernels = attention_kernels_by_name(kernel->as_string());
    if (!run.attention_kernels) {
      kernel->fail(fmt::format("unknown attention kernel '{}'", kernel->as_string()), "hopper, flash2 or flash1");
    }
  }
  if (const auto cp = node.find("context_parallel")) {
    run.torch_context_parallel =
        one_of(*cp, "context parallelism", {"ring", "torch-allgather"}, "ring or torch-allgather") == "torch-allgather";
  }
  if (const auto unpad = node.find("attention_unpad")) {
    run.attention_unpad_per_layer = one_of(*unpad, "attention unpadding", {"none", "per-layer"}, "none or per-layer") ==
                                    "per-layer";
  }
  if (const auto mtp = node.find("mtp_layers")) {
    run.mtp_layers = mtp->as_non_negative_int("mtp_layers");
    if (*run.mtp_layers > model::k_max_mtp_layers) {
      mtp->fail(fmt::format("mtp_layers {} is more than brix plans", *run.mtp_layers),
                fmt::format("at most {}", model::k_max_mtp_layers));
    }
  }
}

void load_file(const std::string& path, std::vector<CalibrationRun>& out) {
  const auto doc = util::DocNode::load_file(path);
  doc.require_known_keys(k_file_keys, "a calibration file");
  if (doc.at("brix_calibration").as_int() != 2) {
    doc.at("brix_calibration").fail("unsupported calibration file version", "brix_calibration: 2");
  }
  const auto source = doc.at("source").as_string();
  const auto set_text = doc.at("set").as_string();
  if (set_text != "fit" && set_text != "heldout") {
    doc.at("set").fail(fmt::format("unknown set '{}'", set_text), "fit or heldout");
  }
  const auto flops_text = doc.string_or("flops", "model");
  if (flops_text != "model" && flops_text != "narayanan-2021" && flops_text != "megatron-causal") {
    doc.at("flops").fail(fmt::format("unknown FLOP convention '{}'", flops_text),
                         "model, narayanan-2021 or megatron-causal");
  }
  for (const auto& node : doc.at("runs").elements()) {
    node.require_known_keys(k_run_keys, "a calibration run");
    CalibrationRun run;
    run.location = fmt::format("{}:{}", node.file(), node.line());
    run.id = node.at("id").as_string();
    run.source = source;
    run.set = set_text == "fit" ? CalibrationSet::fit : CalibrationSet::heldout;
    run.flops = flops_text == "model"            ? FlopConvention::model
                : flops_text == "narayanan-2021" ? FlopConvention::narayanan_2021
                                                 : FlopConvention::megatron_causal;
    run.model = node.at("model").as_string();
    run.gpu = node.at("gpu").as_string();
    (void)cluster::find_gpu(run.gpu);
    run.gpus = static_cast<int>(node.at("gpus").as_positive_int("gpus"));
    run.gpus_per_node = static_cast<int>(node.int_or("gpus_per_node", 8));
    if (run.gpus_per_node < 1 || run.gpus % run.gpus_per_node != 0) {
      node.at("gpus").fail(fmt::format("{} GPUs is not a whole number of {}-GPU nodes", run.gpus, run.gpus_per_node));
    }
    run.nvlink_domain = static_cast<int>(node.int_or("nvlink_domain", 0));
    if (const auto nics = node.find("nics")) {
      nics->require_known_keys(std::vector<std::string>{"count", "gbps"}, "nics");
      run.nics_per_node = static_cast<int>(nics->at("count").as_positive_int("nics.count"));
      run.nic_gbps = nics->at("gbps").as_positive_double("nics.gbps");
    }
    run.seq_len = node.at("seq_len").as_positive_int("seq_len");
    run.global_batch = node.at("global_batch").as_positive_int("global_batch");
    const auto precision = node.string_or("precision", "bf16");
    if (precision != "bf16" && precision != "fp8") {
      node.at("precision").fail(fmt::format("unknown precision '{}'", precision), "bf16 or fp8");
    }
    run.precision = precision == "fp8" ? Precision::fp8 : Precision::bf16;
    run.layout = node.at("layout").as_string();
    const auto published = parse_layout_query(run.layout, fmt::format("{}:{}", node.file(), node.at("layout").line()));
    if (const auto local = node.find("local_batch")) {
      run.local_batch = local->as_positive_int("local_batch");
      if (run.global_batch % run.local_batch != 0) {
        local->fail(fmt::format("local_batch {} does not divide global_batch {}", run.local_batch, run.global_batch),
                    "a divisor of global_batch: sequences per data-parallel rank in one pipeline schedule run");
      }
      // A local batch is what one data-parallel rank takes in a run of the schedule: where the
      // row publishes dp or the micro-batch, the runs must divide the rank's share into whole
      // micro-batches, or the row contradicts itself (pipeline_schedule_runs would round).
      if (published.dp && run.global_batch % *published.dp == 0 &&
          (run.global_batch / *published.dp) % run.local_batch != 0) {
        local->fail(fmt::format("local_batch {} does not divide the {} sequences each of dp={} ranks takes of "
                                "global_batch {}",
                                run.local_batch, run.global_batch / *published.dp, *published.dp, run.global_batch),
                    "a divisor of global_batch / dp");
      }
      if (published.micro_batch && run.local_batch % *published.micro_batch != 0) {
        local->fail(fmt::format("local_batch {} is not a whole number of micro-batches of mbs={}", run.local_batch,
                                *published.micro_batch),
                    "a multiple of mbs");
      }
    }
    run.software = node.string_or("software", "modern");
    if (const auto software = node.find("software")) {
      // Checked here, not by software_by_name at evaluation, so the error names the file and line.
      const auto names = software_names();
      if (std::find(names.begin(), names.end(), run.software) == names.end()) {
        software->fail(fmt::format("unknown software profile '{}'{}", run.software,
                                   util::did_you_mean(run.software, names)),
                       fmt::format("one of {}", fmt::join(names, ", ")));
      }
    }
    if (const auto recipe = node.find("fp8_recipe")) {
      const auto name = recipe->as_string();
      if (run.precision != Precision::fp8) {
        recipe->fail("fp8_recipe on a bf16 run", "precision: fp8");
      }
      try {
        run.fp8_recipe = fp8_recipe_by_name(name);
      } catch (const InputError&) {
        recipe->fail(fmt::format("unknown FP8 recipe '{}'", name), "delayed, tensorwise, blockwise or mxfp8");
      }
    }
    read_recipe_settings(node, run);
    run.metric = node.at("metric").as_string();
    if (std::find(k_metrics.begin(), k_metrics.end(), run.metric) == k_metrics.end()) {
      node.at("metric").fail(fmt::format("unknown metric '{}'", run.metric),
                             "step_s, tokens_per_s_per_gpu, tflops_per_gpu or mfu");
    }
    run.published = node.at("published").as_positive_double("published");
    run.quote = node.string_or("quote", "");
    out.push_back(std::move(run));
  }
}

} // namespace

std::vector<CalibrationRun> load_calibration_runs(const std::string& path) {
  std::vector<CalibrationRun> runs;
  std::error_code error;
  if (!fs::is_directory(path, error)) {
    load_file(path, runs);
    return runs;
  }
  for (const char* set : {"fit", "heldout"}) {
    std::vector<std::string> files;
    const auto dir = fs::path(path) / set;
    if (!fs::is_directory(dir, error)) {
      continue;
    }
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".yaml") {
        files.push_back(entry.path().string());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      const auto before = runs.size();
      load_file(file, runs);
      const auto expected = std::string(set) == "fit" ? CalibrationSet::fit : CalibrationSet::heldout;
      for (auto i = before; i < runs.size(); ++i) {
        if (runs[i].set != expected) {
          throw InputError(fmt::format("{}: set: {} in the {}/ folder (a file's set is its folder's)", file,
                                       expected == CalibrationSet::fit ? "heldout" : "fit", set));
        }
      }
    }
  }
  if (runs.empty()) {
    throw InputError(fmt::format("{}: no calibration runs (expected fit/*.yaml and heldout/*.yaml)", path));
  }
  std::map<std::string, std::string> ids;
  for (const auto& run : runs) {
    if (const auto [at, fresh] = ids.emplace(run.id, run.location); !fresh) {
      throw InputError(fmt::format("{}: run id '{}' is used twice (first at {})", run.location, run.id, at->second));
    }
  }
  return runs;
}

cluster::ClusterSpec calibration_cluster(const CalibrationRun& run) {
  auto cluster = cluster::shorthand_cluster(run.gpus / run.gpus_per_node, run.gpus_per_node, run.gpu,
                                            run.nics_per_node, run.nic_gbps);
  if (run.nvlink_domain > 0) {
    cluster.groups.front().nvlink_domain = std::min(run.nvlink_domain, run.gpus);
  }
  return cluster;
}

CalibrationRow evaluate_run(const CalibrationRun& run, std::optional<double> host_seconds_per_op) {
  CalibrationRow row;
  row.run = run;
  try {
    auto model = model::load_model(run.model);
    if (run.mtp_layers) {
      model.mtp_layers = *run.mtp_layers;
    }
    row.moe = model.moe.has_value();
    const auto cluster = calibration_cluster(run);
    SearchOptions options;
    options.shape.global_batch = run.global_batch;
    options.shape.local_batch = run.local_batch;
    options.shape.seq_len = run.seq_len;
    options.precision = run.precision;
    options.top_k = 1;
    options.fixed = parse_layout_query(run.layout);
    options.software = software_by_name(run.software);
    if (run.fp8_recipe) {
      options.software.fp8_recipe = *run.fp8_recipe;
    }
    // A row's `flash=` and `grads=` as `brix plan --layout` takes them; its `grad_reduce:` below
    // states the gradient precision in the row's own words and wins.
    apply_layout_software(options);
    if (host_seconds_per_op) {
      options.software.host_seconds_per_op = *host_seconds_per_op;
    }
    options.software.hierarchical_all_to_all =
        run.hierarchical_all_to_all.value_or(options.software.hierarchical_all_to_all);
    options.software.overlap_all_to_all = run.overlap_all_to_all.value_or(options.software.overlap_all_to_all);
    options.software.tp_comm_overlap = run.tp_comm_overlap.value_or(options.software.tp_comm_overlap);
    options.software.fp8_param_gather = run.fp8_param_gather.value_or(options.software.fp8_param_gather);
    options.software.overlap_grad_reduce = run.overlap_grad_reduce.value_or(options.software.overlap_grad_reduce);
    options.software.loss_all_reduce_per_micro_batch =
        run.loss_all_reduce.value_or(options.software.loss_all_reduce_per_micro_batch);
    options.software.balanced_routing = run.balanced_routing;
    // FP8 expert rows arrive aligned, and TEGroupedMLP's Fp8Padding copies nothing, where the router
    // pads its routing map or where HybridEP pads each expert's rows as it permutes them: the
    // Megatron-LM of every hybridep row here (0d8e0714, Megatron-Bridge 25.11's pin; 2edffadb,
    // 26.04.01's; core_v0.16.0) has _HybridEPManager.dispatch set 'self.pad_multiple' under FP8
    // and pass it to hybrid_ep_dispatch (dispatch_with_permute).
    if (run.router_padding_for_fp8.value_or(false) || run.hybridep) {
      options.software.fp8_expert_row_padding = false;
    }
    options.software.grad_reduce_bytes = run.grad_reduce_bytes.value_or(options.software.grad_reduce_bytes);
    options.software.cuda_graphs = run.cuda_graphs.value_or(options.software.cuda_graphs);
    options.software.attention_kernels = run.attention_kernels.value_or(options.software.attention_kernels);
    options.software.torch_context_parallel =
        run.torch_context_parallel.value_or(options.software.torch_context_parallel);
    if (run.attention_unpad_per_layer) {
      options.software.drained_ops_per_layer = k_ops_unpad_after_sync;
    }
    const auto result = search_layouts(model, cluster, options);
    std::optional<PlanEstimate> chosen;
    if (!result.plans.empty()) {
      chosen = result.plans.front();
    } else {
      // The run happened: cost the completion closest to running, and say what brix objects to.
      const auto completion = closest_completion(model, cluster, options, options.fixed);
      const auto verdict = explain_layout(model, cluster, options, completion.layout);
      if (!verdict.estimate) {
        row.note = result.rejected.empty() ? "no layout" : result.rejected.front().reason;
        return row;
      }
      chosen = verdict.estimate;
      row.note = verdict.problems.empty() ? "" : "brix says it cannot run: " + verdict.problems.front();
    }
    const auto& plan = *chosen;
    row.chosen = to_string(plan.layout);
    row.memory_bytes = plan.memory.total;
    const double tokens = static_cast<double>(run.global_batch) * static_cast<double>(run.seq_len);
    const auto flops = model::flops_per_token(model, run.seq_len);
    double counted = 0; // the FLOPs per step the source divides by time
    if (run.flops == FlopConvention::narayanan_2021) {
      counted = flops.training_published * tokens * (plan.layout.recompute == Recompute::full ? 4.0 / 3.0 : 1.0);
    } else if (run.flops == FlopConvention::megatron_causal) {
      counted = (flops.training - 3.0 * 0.5 * flops.attention_core) * tokens;
    } else {
      counted = flops.training * tokens;
    }
    const double step = plan.step.step_s;
    if (run.metric == "step_s") {
      row.predicted = step;
    } else if (run.metric == "tokens_per_s_per_gpu") {
      row.predicted = tokens / step / run.gpus;
    } else if (run.metric == "tflops_per_gpu") {
      row.predicted = counted / step / run.gpus / 1e12;
    } else {
      row.predicted = counted / step / run.gpus / cluster.groups.front().gpu.bf16_flops;
    }
    row.error = (row.predicted - run.published) / run.published;
    row.evaluated = true;
  } catch (const InputError& e) {
    row.note = e.what();
  }
  return row;
}

CalibrationSummary summarise(const std::vector<CalibrationRow>& rows) {
  CalibrationSummary summary;
  double sum = 0;
  double moe_sum = 0;
  for (const auto& row : rows) {
    if (!row.evaluated) {
      ++summary.failed;
      continue;
    }
    ++summary.runs;
    const double error = std::abs(row.error);
    sum += error;
    summary.max_abs_error = std::max(summary.max_abs_error, error);
    if (row.moe) {
      ++summary.moe_runs;
      moe_sum += error;
    }
  }
  summary.mean_abs_error = summary.runs > 0 ? sum / summary.runs : 0.0;
  summary.moe_mean_abs_error = summary.moe_runs > 0 ? moe_sum / summary.moe_runs : 0.0;
  return summary;
}

namespace {

LeaveOneSourceOut leave_one_source_out(const std::vector<CalibrationRun>& runs) {
  // |error| of every fit run at every grid value (NaN where the run gets no plan).
  std::vector<const CalibrationRun*> fit;
  std::vector<std::string> sources;
  for (const auto& run : runs) {
    if (run.set == CalibrationSet::fit) {
      fit.push_back(&run);
      if (std::find(sources.begin(), sources.end(), run.source) == sources.end()) {
        sources.push_back(run.source);
      }
    }
  }
  const std::size_t grid = std::size(k_host_op_grid);
  std::vector<std::vector<double>> errors(grid, std::vector<double>(fit.size(), std::nan("")));
  for (std::size_t g = 0; g < grid; ++g) {
    for (std::size_t r = 0; r < fit.size(); ++r) {
      const auto row = evaluate_run(*fit[r], k_host_op_grid[g]);
      if (row.evaluated) {
        errors[g][r] = std::abs(row.error);
      }
    }
  }
  // Mean |error| at grid value g over the fit runs whose source is (or is not) `source`.
  const auto mean = [&](std::size_t g, const std::string& source, bool of_source) {
    double sum = 0;
    int count = 0;
    for (std::size_t r = 0; r < fit.size(); ++r) {
      if ((fit[r]->source == source) == of_source && !std::isnan(errors[g][r])) {
        sum += errors[g][r];
        ++count;
      }
    }
    return std::pair{count > 0 ? sum / count : 0.0, count};
  };
  LeaveOneSourceOut result;
  double total = 0;
  for (const auto& source : sources) {
    std::size_t best = 0;
    for (std::size_t g = 1; g < grid; ++g) {
      if (mean(g, source, false).first < mean(best, source, false).first) {
        best = g;
      }
    }
    const auto [error, count] = mean(best, source, true);
    result.sources.push_back({source, count, k_host_op_grid[best], error});
    total += error * count;
    result.runs += count;
  }
  result.mean_abs_error = result.runs > 0 ? total / result.runs : 0.0;
  return result;
}

} // namespace

CalibrationReport run_calibration(const std::vector<CalibrationRun>& runs) {
  CalibrationReport report;
  std::vector<CalibrationRow> fit;
  std::vector<CalibrationRow> heldout;
  for (const auto& run : runs) {
    auto row = evaluate_run(run);
    (run.set == CalibrationSet::fit ? fit : heldout).push_back(row);
    report.rows.push_back(std::move(row));
  }
  report.fit = summarise(fit);
  report.heldout = summarise(heldout);
  report.all = summarise(report.rows);
  report.leave_one_out = leave_one_source_out(runs);
  return report;
}

std::string default_calibration_path() { return (util::config_dir() / "calibration").string(); }

} // namespace brix::plan
