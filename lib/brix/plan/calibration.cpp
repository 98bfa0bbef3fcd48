#include <brix/plan/calibration.hpp>

#include <brix/cluster/loader.hpp>
#include <brix/model/loader.hpp>
#include <brix/model/params.hpp>
#include <brix/plan/search.hpp>
#include <brix/util/document.hpp>

#include <cmath>
#include <optional>
#include <fmt/format.h>

namespace brix::plan {

CalibrationReport run_calibration(const std::string& path) {
  const auto doc = util::DocNode::load_file(path);
  doc.require_known_keys(std::vector<std::string>{"cluster", "seq_len", "runs"}, "a calibration file");
  const auto base_cluster = cluster::load_cluster(doc.at("cluster").as_string());
  const auto seq_len = doc.at("seq_len").as_positive_int("seq_len");
  const std::vector<std::string> keys{"table", "model", "gpus", "global_batch", "layout", "software", "metric", "published"};
  CalibrationReport report;
  double sum = 0;
  for (const auto& run : doc.at("runs").elements()) {
    run.require_known_keys(keys, "a calibration run");
    CalibrationRow row;
    row.table = run.string_or("table", "");
    row.model = run.at("model").as_string();
    row.gpus = static_cast<int>(run.at("gpus").as_positive_int("gpus"));
    row.layout = run.at("layout").as_string();
    row.metric = run.at("metric").as_string();
    row.published = run.at("published").as_positive_double("published");
    if (row.metric != "tflops_per_gpu" && row.metric != "iteration_s" && row.metric != "mfu") {
      run.at("metric").fail(fmt::format("unknown metric '{}'", row.metric), "expected tflops_per_gpu, iteration_s or mfu");
    }
    const auto model = model::load_model(row.model);
    auto cluster = base_cluster;
    cluster.groups.resize(1);
    auto& group = cluster.groups.front();
    if (row.gpus % group.gpus_per_node != 0) {
      run.at("gpus").fail(fmt::format("{} GPUs is not a whole number of {}-GPU nodes", row.gpus, group.gpus_per_node));
    }
    group.nodes = row.gpus / group.gpus_per_node;

    SearchOptions options;
    options.shape.global_batch = run.at("global_batch").as_positive_int("global_batch");
    options.shape.seq_len = seq_len;
    options.top_k = 1;
    options.fixed = parse_layout_query(row.layout);
    options.software = software_by_name(run.string_or("software", "modern"));
    const auto result = search_layouts(model, cluster, options);
    std::optional<PlanEstimate> chosen;
    if (!result.plans.empty()) {
      chosen = result.plans.front();
    } else {
      // The run happened, so time it even where brix's memory model says it does not fit
      // (e.g. DeepSpeed offloaded checkpoints to host memory); the row says so.
      auto query = options.fixed;
      const int model_parallel = query.tp.value_or(1) * query.pp.value_or(1) * query.cp.value_or(1);
      query.dp = query.dp.value_or(row.gpus / model_parallel);
      const auto verdict = explain_layout(model, cluster, options, complete_layout(query));
      if (!verdict.estimate) {
        const std::string why = result.rejected.empty() ? "no layout" : result.rejected.front().reason;
        run.fail(fmt::format("the published layout of {} cannot be evaluated: {}", row.model, why));
      }
      chosen = verdict.estimate;
      row.note = verdict.problems.empty() ? "" : verdict.problems.front();
    }
    const auto& plan = *chosen;
    row.chosen = to_string(plan.layout);
    // Count FLOPs as the publications did (72·B·s·l·h²(…), ×4/3 with full recomputation), so
    // that only the predicted time is compared.
    const double tokens = static_cast<double>(options.shape.global_batch) * static_cast<double>(seq_len);
    const double published_flops = model::flops_per_token(model, seq_len).training_published * tokens;
    const double recompute = plan.layout.recompute == Recompute::full ? 4.0 / 3.0 : 1.0;
    if (row.metric == "tflops_per_gpu") {
      row.predicted = published_flops * recompute / plan.step.step_s / row.gpus / 1e12;
    } else if (row.metric == "iteration_s") {
      row.predicted = plan.step.step_s;
    } else {
      row.predicted = published_flops / plan.step.step_s / row.gpus / group.gpu.bf16_flops;
    }
    row.error = (row.predicted - row.published) / row.published;
    sum += std::abs(row.error);
    report.max_abs_error = std::max(report.max_abs_error, std::abs(row.error));
    report.rows.push_back(std::move(row));
  }
  report.mean_abs_error = report.rows.empty() ? 0.0 : sum / static_cast<double>(report.rows.size());
  return report;
}

} // namespace brix::plan
