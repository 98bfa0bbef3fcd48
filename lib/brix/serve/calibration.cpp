// Evaluating published serving results at their published deployments. The cost model is the
// search's (step_time, memory, performance), called on the stated layout; what brix's memory
// model says about a deployment that ran anyway (weights offloaded to host memory) is a note,
// not a reason to skip it.
#include <brix/serve/calibration.hpp>

#include <brix/cluster/gpu_catalog.hpp>
#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/serve/admission.hpp>
#include <brix/serve/device.hpp>
#include <brix/serve/performance.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>

#include <cmath>
#include <fmt/format.h>
#include <map>

namespace brix::serve {

namespace {

using util::DocNode;

const std::vector<std::string> k_run_keys{
    "id",     "set",    "source", "url",     "quote",       "model",       "cluster", "gpu",
    "nodes",  "engine", "engine_version",    "phase",       "layout",      "isl",     "osl",
    "chunk",  "batch",  "context", "concurrency", "num_prompts", "cached_tokens", "mtp_acceptance_length", "metric",
    "published", "also", "assumptions"};

const std::map<std::string, MetricKind, std::less<>> k_metrics{
    {"input_tokens_per_s_per_node", MetricKind::throughput},
    {"input_tokens_per_s_per_gpu", MetricKind::throughput},
    {"output_tokens_per_s_per_node", MetricKind::throughput},
    {"output_tokens_per_s_per_gpu", MetricKind::throughput},
    {"output_tokens_per_s", MetricKind::throughput},
    {"requests_per_s", MetricKind::throughput},
    {"tokens_per_s_per_user", MetricKind::latency},
    {"ttft_s", MetricKind::latency},
    {"tpot_s", MetricKind::latency},
    {"e2e_latency_s", MetricKind::latency}};

/// A complete layout from a query that states the roles' shapes (missing pp/dp/instances are 1;
/// a missing ep/etp pair puts the experts over every GPU of a stage with EP 1).
ServeLayout complete(const LayoutQuery& query, const model::ModelSpec& model) {
  auto shape_of = [&](const ShapeQuery& role) {
    InstanceShape shape{role.tp.value_or(1), role.pp.value_or(1), role.dp.value_or(1), 1, 1};
    if (model.moe) {
      shape.ep = role.ep.value_or(role.etp ? shape.stage_gpus() / *role.etp : 1);
      shape.etp = role.etp.value_or(shape.stage_gpus() / shape.ep);
    }
    return RolePlan{shape, role.instances.value_or(1)};
  };
  ServeLayout layout;
  layout.mode = query.mode.value_or(Mode::aggregated);
  layout.both = shape_of(query.both);
  layout.prefill = shape_of(query.prefill);
  layout.decode = shape_of(query.decode);
  layout.weights = query.weights.value_or(WeightPrecision::bf16);
  layout.kv = query.kv.value_or(KvPrecision::bf16);
  layout.mtp = query.mtp.value_or(0);
  layout.overlap = query.overlap.value_or(false);
  layout.offload = query.offload.value_or(0);
  return layout;
}

cluster::NodeGroup row_group(const DocNode& run, const ServeLayout& layout, cluster::ClusterSpec& spec) {
  if (const auto name = run.find("cluster")) {
    spec = cluster::load_cluster(name->as_string());
    return spec.groups.front();
  }
  const auto gpu = run.at("gpu").as_string();
  const auto& catalog = cluster::find_gpu(gpu);
  const int per_node = catalog.default_gpus_per_node;
  const int needed = (layout.gpus() + per_node - 1) / per_node;
  const int nodes = run.find("nodes") ? static_cast<int>(run.at("nodes").as_positive_int("nodes")) : needed;
  spec = cluster::shorthand_cluster(nodes, per_node, gpu, std::nullopt, std::nullopt);
  return spec.groups.front();
}

/// The value of `metric` for one serve-phase operating point.
double serve_metric(std::string_view metric, const Performance& performance, int gpus, int per_node, double osl) {
  if (metric == "output_tokens_per_s_per_gpu") {
    return performance.output_tokens_per_s / gpus;
  }
  if (metric == "output_tokens_per_s_per_node") {
    return performance.output_tokens_per_s / gpus * per_node;
  }
  if (metric == "output_tokens_per_s") {
    return performance.output_tokens_per_s;
  }
  if (metric == "requests_per_s") {
    return performance.request_rate;
  }
  if (metric == "tokens_per_s_per_user") {
    return performance.tokens_per_s_per_user;
  }
  if (metric == "ttft_s") {
    return performance.ttft_s;
  }
  if (metric == "tpot_s") {
    return performance.tpot_s;
  }
  if (metric == "e2e_latency_s") {
    return performance.ttft_s + (osl - 1.0) * performance.tpot_s;
  }
  return std::nan("");
}

struct Evaluated {
  std::map<std::string, double, std::less<>> values; ///< metric → predicted
  std::string note;
  std::string step;
};

/// "decode 56.2 ms: weights 17% kv 0% gemm 15% attention 41% collectives 21% floors 6%".
std::string step_shares(std::string_view what, const StepCost& cost) {
  auto pct = [&](double part) { return cost.seconds > 0 ? 100.0 * part / cost.seconds : 0.0; };
  return fmt::format("{} {:.1f} ms: weights {:.0f}% kv {:.0f}% gemm {:.0f}% attention {:.0f}% collectives {:.0f}% "
                     "floors {:.0f}%",
                     what, cost.seconds * 1e3, pct(cost.weights_s), pct(cost.kv_s), pct(cost.gemm_s),
                     pct(cost.attention_s), pct(cost.collectives_s), pct(cost.floors_s));
}

Evaluated evaluate_run(const DocNode& run) {
  Evaluated out;
  const auto model = model::load_model(run.at("model").as_string());
  const auto engine_node = run.at("engine");
  const Engine engine_kind = [&] {
    try {
      return parse_engine(engine_node.as_string());
    } catch (const InputError& error) {
      engine_node.fail(error.what());
    }
  }();
  const auto& engine = find_engine_version_to_cost(engine_kind, run.string_or("engine_version", ""));
  const auto layout_node = run.at("layout");
  LayoutQuery query;
  try {
    query = parse_layout_query(layout_node.as_string());
  } catch (const InputError& error) {
    layout_node.fail(error.what());
  }
  const auto layout = complete(query, model);
  cluster::ClusterSpec spec;
  const auto group = row_group(run, layout, spec);
  const auto device = serve_device(group, spec.network, spec.oversubscription);
  const RoleContext context{&model,     &device,         &engine,        layout.weights,
                            layout.kv,  layout.mtp,      layout.overlap, layout.offload};
  Workload workload;
  workload.isl = run.int_or("isl", 1024);
  workload.osl = run.int_or("osl", 1024);
  if (const auto length = run.find("mtp_acceptance_length")) {
    workload.mtp_acceptance = acceptance_for_length(layout.mtp, length->as_positive_double("mtp_acceptance_length"));
  }
  if (const auto prompts = run.find("num_prompts")) {
    workload.num_prompts = prompts->as_positive_double("num_prompts");
  }
  if (const auto cached = run.find("cached_tokens")) {
    workload.cached_tokens = cached->as_positive_int("cached_tokens");
    if (workload.cached_tokens >= workload.isl) {
      cached->fail(fmt::format("cached_tokens {} leaves nothing of the {}-token prompt to compute",
                               workload.cached_tokens, workload.isl),
                   "fewer than isl");
    }
  }
  const auto phase_node = run.at("phase");
  const auto phase = phase_node.as_string();
  const double tau = tokens_per_step(layout.mtp, workload.mtp_acceptance);
  if (phase == "prefill") {
    const auto& role = layout.prefill;
    const auto chunk = run.int_or("chunk", k_prefill_chunk_tokens);
    const auto step = step_context(context, role.shape);
    const double stage = prefill_stage_seconds(step, static_cast<double>(chunk), static_cast<double>(workload.isl));
    out.step = step_shares("prefill", prefill_step(step, static_cast<double>(chunk), static_cast<double>(workload.isl)));
    const double per_gpu = role.shape.dp * static_cast<double>(chunk) / stage / role.shape.gpus();
    out.values["input_tokens_per_s_per_gpu"] = per_gpu;
    out.values["input_tokens_per_s_per_node"] = per_gpu * group.gpus_per_node;
    Workload prompts = workload;
    prompts.osl = 1;
    std::string why;
    if (!size_role(context, role, prompts, chunk, why)) {
      out.note = "brix: " + why;
    }
    return out;
  }
  if (phase == "decode") {
    const auto& role = layout.decode;
    const double context_tokens = static_cast<double>(run.at("context").as_positive_int("context"));
    double batch = 0;
    const auto batch_node = run.at("batch");
    const auto pool = kv_pool(model, role.shape, layout.weights, layout.kv, layout.mtp > 0, device.memory_bytes, engine,
                              k_chunk_tokens, k_max_sequences, layout.offload);
    if (batch_node.as_string() == "kv-full") {
      batch = std::floor(static_cast<double>(pool.tokens / role.shape.dp) / context_tokens);
      out.note = fmt::format("brix: the KV pool holds {} sequences per rank", batch);
      if (batch < 1) {
        batch_node.fail("the KV cache holds no sequence of this length", "a layout whose weights leave room for KV");
      }
    } else {
      batch = batch_node.as_positive_double("batch");
      if (pool.tokens / role.shape.dp < static_cast<std::int64_t>(batch * context_tokens)) {
        out.note = fmt::format("brix: {} sequences of {} tokens exceed the KV pool ({} tokens per rank)", batch,
                               context_tokens, pool.tokens / role.shape.dp);
      }
    }
    const auto step = decode_step(step_context(context, role.shape), batch, context_tokens, layout.mtp);
    out.step = step_shares(fmt::format("decode at {:.0f}/rank", batch), step);
    const double per_gpu = batch * role.shape.dp * tau / step.seconds / role.shape.gpus();
    out.values["output_tokens_per_s_per_gpu"] = per_gpu;
    out.values["output_tokens_per_s_per_node"] = per_gpu * group.gpus_per_node;
    out.values["tokens_per_s_per_user"] = tau / step.seconds;
    out.values["tpot_s"] = step.seconds / tau;
    return out;
  }
  if (phase != "serve") {
    phase_node.fail(fmt::format("unknown phase '{}'", phase), "prefill, decode or serve");
  }
  const auto concurrency_node = run.at("concurrency");
  const bool fill = concurrency_node.as_string() == "kv-full";
  // The deployment ran: cost it even where brix's memory model disagrees, and say so. It ran
  // with the engine's default limits, not brix's flags: the running batch is what the engine's
  // admission rule lets into the KV pool, and the client's requests beyond it wait in the
  // engine's queue (at least one request per DP rank runs where brix's pool holds none).
  auto cost = [&](const RolePlan& plan, const Workload& load, std::int64_t chunk) {
    // Started with the engine's default limits: its steps and prefill rate costed with them.
    auto role = cost_role(context, plan, load, chunk, k_max_sequences);
    std::string why;
    if (!size_role(context, plan, load, chunk, why)) {
      out.note = "brix: " + why;
    }
    role.max_sequences = std::max<std::int64_t>(
        1, admitted_sequences(default_admission(engine.engine), role.pool.tokens / plan.shape.dp, load.isl, load.osl,
                              k_max_sequences));
    role.max_concurrency = role.max_sequences * plan.shape.dp;
    return role;
  };
  const double wanted = fill ? 0.0 : concurrency_node.as_positive_double("concurrency");
  Performance performance;
  if (layout.mode == Mode::aggregated) {
    auto both = cost(layout.both, workload, run.int_or("chunk", k_chunk_tokens));
    workload.concurrency = fill ? static_cast<double>(both.max_concurrency * layout.both.instances) : wanted;
    performance = aggregated_performance(context, both, workload);
    out.step = step_shares(fmt::format("decode at {:.0f}/rank", both.batch), both.decode);
  } else {
    Workload prompts = workload;
    prompts.osl = 1;
    auto prefill = cost(layout.prefill, prompts, k_prefill_chunk_tokens);
    auto decode = cost(layout.decode, workload, k_chunk_tokens);
    workload.concurrency = fill ? static_cast<double>(decode.max_concurrency * layout.decode.instances) : wanted;
    performance = disaggregated_performance(context, prefill, decode, workload);
    out.step = step_shares(fmt::format("decode at {:.0f}/rank", decode.batch), decode.decode);
  }
  for (const auto& [metric, kind] : k_metrics) {
    const double value = serve_metric(metric, performance, layout.gpus(), group.gpus_per_node,
                                      static_cast<double>(workload.osl));
    if (!std::isnan(value)) {
      out.values[metric] = value;
    }
  }
  if (out.note.empty()) {
    out.note = fmt::format("{}-bound", to_string(performance.limit));
  }
  return out;
}

CalibrationRow make_row(const DocNode& run, const std::string& metric, double published, const Evaluated& evaluated,
                        const DocNode& where) {
  CalibrationRow row;
  row.id = run.at("id").as_string();
  row.set = run.at("set").as_string();
  if (row.set != "fit" && row.set != "heldout") {
    run.at("set").fail(fmt::format("unknown set '{}'", row.set), "fit or heldout");
  }
  row.model = run.at("model").as_string();
  row.gpu = run.find("cluster") ? run.at("cluster").as_string() : run.at("gpu").as_string();
  row.phase = run.at("phase").as_string();
  row.layout = run.at("layout").as_string();
  row.metric = metric;
  const auto kind = k_metrics.find(metric);
  if (kind == k_metrics.end()) {
    where.fail(fmt::format("unknown metric '{}'", metric), "a metric brix predicts, e.g. output_tokens_per_s_per_gpu or tpot_s");
  }
  row.kind = kind->second;
  const auto value = evaluated.values.find(metric);
  if (value == evaluated.values.end()) {
    where.fail(fmt::format("metric '{}' is not predicted for a {} run", metric, row.phase));
  }
  row.published = published;
  row.predicted = value->second;
  row.error = (row.predicted - row.published) / row.published;
  row.note = evaluated.note;
  row.step = evaluated.step;
  return row;
}

} // namespace

ServeCalibrationReport run_serving_calibration(const std::string& path) {
  const auto doc = DocNode::load_file(path);
  doc.require_known_keys(std::vector<std::string>{"runs", "excluded"}, "a serving calibration file");
  ServeCalibrationReport report;
  report.file = path;
  for (const auto& run : doc.at("runs").elements()) {
    run.require_known_keys(k_run_keys, "a serving calibration run");
    const auto evaluated = evaluate_run(run);
    report.rows.push_back(make_row(run, run.at("metric").as_string(), run.at("published").as_positive_double("published"),
                                   evaluated, run.at("metric")));
    if (const auto also = run.find("also")) {
      for (const auto& key : also->keys()) {
        report.rows.push_back(make_row(run, key, also->at(key).as_positive_double(key), evaluated, also->at(key)));
      }
    }
  }
  if (const auto excluded = doc.find("excluded")) {
    for (const auto& item : excluded->elements()) {
      report.excluded.push_back({item.at("id").as_string(), item.at("set").as_string(), item.at("reason").as_string()});
    }
  }
  for (const auto* set : {"fit", "heldout"}) {
    for (const auto kind : {MetricKind::throughput, MetricKind::latency}) {
      CalibrationSummary summary{set, kind, 0, 0, 0};
      for (const auto& row : report.rows) {
        if (row.set == set && row.kind == kind) {
          ++summary.count;
          summary.mean_abs_error += std::abs(row.error);
          summary.max_abs_error = std::max(summary.max_abs_error, std::abs(row.error));
        }
      }
      if (summary.count > 0) {
        summary.mean_abs_error /= summary.count;
      }
      report.summary.push_back(summary);
    }
  }
  return report;
}

} // namespace brix::serve
