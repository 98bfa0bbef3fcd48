// A ServeReport's ranking and its JSON document (`--format json|yaml`).
#include <brix/serve/serve_report.hpp>

#include <brix/model/params.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace brix::serve {

namespace {

using Json = nlohmann::ordered_json;
constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;

bool ranked_before(const RankedPlan& a, const RankedPlan& b) { return serve::ranks_before(*a.plan, *b.plan); }

Json step_json(const StepCost& cost) {
  return {{"seconds", cost.seconds},       {"weights_s", cost.weights_s},         {"kv_cache_s", cost.kv_s},
          {"gemm_s", cost.gemm_s},         {"attention_s", cost.attention_s},     {"collectives_s", cost.collectives_s},
          {"kernel_floors_s", cost.floors_s}};
}

Json memory_json(const GpuMemory& memory) {
  return {{"weights", memory.weights / k_gib},
          {"kv_cache", memory.kv_cache / k_gib},
          {"activations", memory.activations / k_gib},
          {"other", memory.other / k_gib},
          {"total", memory.total / k_gib},
          {"engine_memory_fraction", memory.memory_fraction}};
}

Json role_json(const RoleEstimate& role) {
  return {{"layout", to_string(role.plan.shape, role.plan.instances)},
          {"gpus", role.plan.gpus()},
          {"kv_bytes_per_token", role.pool.kv_bytes_per_token},
          {"kv_cache_tokens", role.pool.tokens},
          {"max_concurrency", role.max_concurrency * role.plan.instances},
          {"max_sequences_per_dp_rank", role.max_sequences},
          {"chunk_tokens", role.chunk_tokens},
          {"decode_batch_per_dp_rank", role.batch},
          {"prefill_tokens_per_s_per_instance", role.prefill_tokens_per_s},
          {"memory_gib", memory_json(role.pool.memory)},
          {"decode_step", step_json(role.decode)},
          {"prefill_chunk", step_json(role.prefill)}};
}

Json rejected_json(const std::vector<RejectionGroup>& rejected) {
  Json out = Json::array();
  for (const auto& group : rejected) {
    out.push_back({{"reason", group.rule}, {"count", group.count}, {"example", group.example}});
  }
  return out;
}

} // namespace

std::vector<RankedPlan> ranked_plans(const ServeReport& report) {
  std::vector<RankedPlan> all;
  for (const auto& group : report.groups) {
    for (const auto& plan : group.result.plans) {
      all.push_back({&group, &plan});
    }
  }
  std::stable_sort(all.begin(), all.end(), ranked_before);
  if (all.size() > static_cast<std::size_t>(std::max(1, report.top))) {
    all.resize(static_cast<std::size_t>(std::max(1, report.top)));
  }
  return all;
}

std::vector<RankedPlan> pareto_front(const ServeReport& report) {
  std::vector<RankedPlan> all;
  for (const auto& group : report.groups) {
    for (const auto& plan : group.result.pareto) {
      all.push_back({&group, &plan});
    }
  }
  std::vector<RankedPlan> front;
  for (const auto& candidate : all) {
    const auto& p = *candidate.plan;
    const bool dominated = std::any_of(all.begin(), all.end(), [&](const RankedPlan& other) {
      const auto& q = *other.plan;
      return (q.performance.tokens_per_s_per_user > p.performance.tokens_per_s_per_user &&
              q.output_tokens_per_s_per_gpu >= p.output_tokens_per_s_per_gpu) ||
             (q.performance.tokens_per_s_per_user >= p.performance.tokens_per_s_per_user &&
              q.output_tokens_per_s_per_gpu > p.output_tokens_per_s_per_gpu);
    });
    if (!dominated) {
      front.push_back(candidate);
    }
  }
  std::stable_sort(front.begin(), front.end(), [](const RankedPlan& a, const RankedPlan& b) {
    return a.plan->performance.tokens_per_s_per_user > b.plan->performance.tokens_per_s_per_user;
  });
  return front;
}

RankedPlan best_plan(const ServeReport& report, std::string_view target) {
  const auto plans = ranked_plans(report);
  if (plans.empty()) {
    throw JobError(fmt::format("--emit {}: no serving layout fits, nothing to emit", target));
  }
  return plans.front();
}

int exit_code(const ServeReport& report) {
  for (const auto& group : report.groups) {
    if (!group.result.plans.empty()) {
      return 0;
    }
  }
  return 1;
}

Json plan_to_json(const RankedPlan& ranked) {
  const auto& plan = *ranked.plan;
  const auto& performance = plan.performance;
  const auto& decoding = plan.decoding();
  Json json;
  json["node_group"] = ranked.group->group.name;
  json["layout"] = to_string(plan.layout);
  json["gpus"] = plan.layout.gpus();
  json["mode"] = to_string(plan.layout.mode);
  // An overloaded open loop has no steady state: its latencies and rates are null, and
  // max_request_rate says what it keeps up with.
  const bool computed = performance.max_request_rate <= 0;
  const auto value = [&](double number) { return computed ? Json(number) : Json(nullptr); };
  json["ttft_s"] = value(performance.ttft_s);
  json["tpot_s"] = value(performance.tpot_s);
  json["output_tokens_per_s"] = value(performance.output_tokens_per_s);
  json["input_tokens_per_s"] = value(performance.input_tokens_per_s);
  json["output_tokens_per_s_per_gpu"] = value(plan.output_tokens_per_s_per_gpu);
  json["tokens_per_s_per_user"] = value(performance.tokens_per_s_per_user);
  json["kv_bytes_per_token"] = decoding.pool.kv_bytes_per_token;
  json["kv_cache_tokens"] = decoding.pool.tokens;
  json["max_concurrency"] = decoding.max_concurrency * decoding.plan.instances;
  json["memory_gib"] = memory_json(decoding.pool.memory);
  json["meets_slo"] = plan.meets_slo;
  json["stable"] = performance.stable;
  json["max_request_rate"] = computed ? Json(nullptr) : Json(performance.max_request_rate);
  json["bound_by"] = to_string(performance.limit);
  json["concurrency"] = performance.concurrency;
  json["request_rate"] = performance.request_rate;
  json["queue_s"] = performance.queue_s;
  // Requests in flight beyond max_concurrency, queued in the engine: a count, (wanted − running)
  // per instance times the instances.
  json["kv_waiting_requests"] = std::llround(performance.kv_waiting);
  json["kv_wait_s"] = performance.kv_wait_s;            // their wait, part of queue_s and TTFT
  json["kv_transfer_s"] = performance.kv_transfer_s;
  json["weights"] = to_string(plan.layout.weights);
  json["kv_cache"] = to_string(plan.layout.kv);
  json["mtp"] = plan.layout.mtp;
  json["offload"] = plan.layout.offload; // one MoE layer in this many keeps its experts in host memory; 0: none
  if (plan.layout.mode == Mode::aggregated) {
    json["instances"] = role_json(plan.both);
  } else {
    json["prefill"] = role_json(plan.prefill);
    json["decode"] = role_json(plan.decode);
  }
  return json;
}

Json to_json(const ServeReport& report) {
  Json doc;
  const auto counts = model::count_parameters(report.model);
  doc["model"] = {{"name", report.model.name},
                  {"source", report.model.source},
                  {"params_total", counts.total},
                  {"params_active", counts.active},
                  {"checkpoint_weights", report.model.checkpoint_weights}};
  doc["cluster"] = {{"name", report.cluster.name}, {"source", report.cluster.source}, {"gpus", report.cluster.total_gpus()},
                    {"homogeneous", report.cluster.homogeneous()}};
  doc["engine"] = {{"name", to_string(report.engine->engine)}, {"version", report.engine->version}};
  const auto& workload = report.workload;
  doc["workload"] = {{"isl", workload.isl},
                     {"osl", workload.osl},
                     {"concurrency", workload.concurrency > 0 ? Json(workload.concurrency) : Json(nullptr)},
                     {"request_rate", workload.request_rate > 0 ? Json(workload.request_rate) : Json(nullptr)},
                     {"num_prompts", workload.num_prompts > 0 ? Json(workload.num_prompts) : Json(nullptr)},
                     {"cached_tokens", workload.cached_tokens},
                     {"ttft_slo_s", workload.ttft_slo_s > 0 ? Json(workload.ttft_slo_s) : Json(nullptr)},
                     {"tpot_slo_s", workload.tpot_slo_s > 0 ? Json(workload.tpot_slo_s) : Json(nullptr)},
                     {"mtp_acceptance", workload.mtp_acceptance},
                     {"default", report.default_workload}};
  doc["plans"] = Json::array();
  for (const auto& ranked : ranked_plans(report)) {
    doc["plans"].push_back(plan_to_json(ranked));
  }
  doc["pareto"] = Json::array();
  for (const auto& ranked : pareto_front(report)) {
    const auto& plan = *ranked.plan;
    doc["pareto"].push_back({{"node_group", ranked.group->group.name},
                             {"layout", to_string(plan.layout)},
                             {"gpus", plan.layout.gpus()},
                             {"mode", to_string(plan.layout.mode)},
                             {"output_tokens_per_s_per_gpu", plan.output_tokens_per_s_per_gpu},
                             {"tokens_per_s_per_user", plan.performance.tokens_per_s_per_user},
                             {"ttft_s", plan.performance.ttft_s},
                             {"tpot_s", plan.performance.tpot_s},
                             {"meets_slo", plan.meets_slo}});
  }
  doc["groups"] = Json::array();
  for (const auto& group : report.groups) {
    doc["groups"].push_back({{"name", group.group.name},
                             {"gpu", group.group.gpu.id},
                             {"gpus", group.group.gpus()},
                             {"weights", to_string(group.weights)},
                             {"weights_reason", group.weights_reason},
                             {"shapes", group.result.shapes},
                             {"evaluated", group.result.evaluated},
                             {"meeting_slo", group.result.meeting_slo},
                             {"seconds", group.result.seconds},
                             {"rejected", rejected_json(group.result.rejected)}});
  }
  doc["notes"] = report.notes;
  return doc;
}

} // namespace brix::serve
