// `brix plan --describe` and `--memory`: the inputs loaded and checked into report values.
#include <brix/plan/summary_run.hpp>

#include <brix/model/loader.hpp>
#include <brix/plan/layout_parse.hpp>
#include <brix/plan/plan_run.hpp>
#include <brix/util/error.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace brix::plan {

ModelSummary describe_model(const std::string& model, std::optional<std::int64_t> seq_len) {
  auto spec = model::load_model(model);
  const auto length = seq_len.value_or(spec.default_seq_len);
  return {std::move(spec), length};
}

MemoryReport memory_report(const MemoryRequest& request) {
  auto summary = describe_model(request.model, request.seq_len);
  auto cluster = cluster::select_cluster(request.cluster, k_default_cluster);
  const std::string text = request.layout.empty() ? k_default_memory_layout : request.layout;
  const auto layout = parse_layout(text);
  const std::int64_t batch =
      request.global_batch.value_or(propose_global_batch(summary.seq_len, cluster.total_gpus()));
  SoftwareProfile software; // --memory is the modern profile's; grads= sets the gradient buffer
  software.grad_reduce_bytes = parse_layout_query(text).grad_bytes.value_or(software.grad_reduce_bytes);
  auto memory = layout_memory_report(summary.model, cluster, layout, TrainingShape{batch, summary.seq_len}, software);
  if (!memory.valid()) {
    throw InputError(fmt::format("--layout {}: invalid on {} ({} GPUs): {}", text, cluster.name, cluster.total_gpus(),
                                 fmt::join(memory.messages, "; ")));
  }
  return {std::move(summary), std::move(cluster), std::move(memory)};
}

} // namespace brix::plan
