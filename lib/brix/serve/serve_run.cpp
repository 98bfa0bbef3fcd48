// The orchestration of `brix plan --serve`: request → model, cluster, workload, engine → one
// search per node group → ServeReport. No output: the report renders itself.
#include <brix/serve/serve_run.hpp>

#include <brix/model/loader.hpp>
#include <brix/plan/plan_run.hpp>
#include <brix/serve/rules.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace brix::serve {

namespace {

void require_positive(std::optional<double> value, std::string_view option, std::string_view expected) {
  if (value && (!std::isfinite(*value) || *value <= 0.0)) {
    throw InputError(fmt::format("{}: {} must be > 0 (expected {})", option, *value, expected));
  }
}

void check_request(const ServeRequest& request) {
  if (request.isl <= 0 || request.osl <= 0) {
    throw InputError(fmt::format("--isl/--osl: {}/{} must be > 0 (expected prompt and output tokens per request)",
                                 request.isl, request.osl));
  }
  require_positive(request.concurrency, "--concurrency", "requests in flight, e.g. 64");
  require_positive(request.request_rate, "--request-rate", "requests per second, e.g. 5");
  require_positive(request.ttft_ms, "--ttft-ms", "a time-to-first-token target in milliseconds, e.g. 2000");
  require_positive(request.tpot_ms, "--tpot-ms", "a time-per-output-token target in milliseconds, e.g. 50");
  require_positive(request.num_prompts, "--num-prompts", "the requests a benchmark client sends in all, e.g. 500");
  if (request.num_prompts && !request.concurrency) {
    throw InputError("--num-prompts: only with --concurrency (expected the client's --num-prompts beside its "
                     "--max-concurrency, e.g. --concurrency 64 --num-prompts 500)");
  }
  if (request.num_prompts && *request.num_prompts != std::floor(*request.num_prompts)) {
    throw InputError(fmt::format("--num-prompts: {} is not a whole number (expected the requests a benchmark client "
                                 "sends in all, e.g. 500)",
                                 *request.num_prompts));
  }
  if (request.cached_tokens && (*request.cached_tokens < 0 || *request.cached_tokens >= request.isl)) {
    throw InputError(fmt::format("--cached-tokens: {} is outside [0, --isl {}) (expected the prompt tokens per request "
                                 "the engine's prefix cache already holds, e.g. a 1000-token shared system prompt; "
                                 "prefill computes at least one)",
                                 *request.cached_tokens, request.isl));
  }
  if (request.concurrency && request.request_rate) {
    throw InputError("--concurrency and --request-rate: give one (expected a closed loop of N requests in flight, or "
                     "an open loop of arrivals per second)");
  }
  if (request.mtp_acceptance && !(*request.mtp_acceptance > 0.0 && *request.mtp_acceptance < 1.0)) {
    throw InputError(fmt::format("--mtp-acceptance: {} is outside (0, 1) (expected the probability a drafted token is "
                                 "accepted, e.g. 0.7)",
                                 *request.mtp_acceptance));
  }
  if (request.top < 1) {
    throw InputError("--top must be >= 1");
  }
}

/// max_position_embeddings (n_positions, seq_length where a family names it so), less OPT's two
/// offset rows; 0 where the model file states none (no check).
std::int64_t position_base(const model::ModelSpec& model) {
  return model.family == "opt" ? std::max<std::int64_t>(0, model.max_positions - 2) : model.max_positions;
}

/// The positions an engine serves the checkpoint at, derived from its config as the engine
/// derives it. A rope_scaling that states the extended length already (llama3, longrope, su)
/// leaves the base; other types scale it by their factor: vLLM (_get_and_verify_max_len) from
/// original_max_position_embeddings for yarn, else from the base, and not at all for Gemma 3;
/// SGLang (get_context_length) the base, and only where the config names no original length.
/// TensorRT-LLM's rule is not checked here: brix takes the larger of the two, refusing only what
/// neither reading allows.
std::int64_t served_context(const model::ModelSpec& model, Engine engine) {
  const std::int64_t base = position_base(model);
  const auto& rope = model.rope_scaling;
  if (base <= 0 || rope.type.empty() || rope.type == "llama3" || rope.type == "longrope" || rope.type == "su") {
    return base;
  }
  const double from = rope.type == "yarn" && rope.original > 0 ? static_cast<double>(rope.original)
                                                                 : static_cast<double>(base);
  // vLLM skips the factor for Gemma 3, whose max_position_embeddings is already the scaled length.
  const bool gemma3 = model.family.find("gemma3") != std::string::npos;
  const auto vllm = gemma3 ? base : static_cast<std::int64_t>(from * rope.factor);
  const auto sglang = rope.original > 0 ? base : static_cast<std::int64_t>(static_cast<double>(base) * rope.factor);
  switch (engine) {
  case Engine::vllm: return vllm;
  case Engine::sglang: return sglang;
  case Engine::trtllm: return std::max(vllm, sglang);
  }
  return std::max(vllm, sglang);
}

/// brix emits ISL + OSL as the engines' --max-model-len / --context-length / --max_seq_len
/// (deployment.cpp); above the served context vLLM and SGLang refuse to start (vLLM:
/// "User-specified max_model_len ... is greater than the derived max_model_len" unless
/// VLLM_ALLOW_LONG_MAX_MODEL_LEN; SGLang likewise unless SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN).
void check_context(const model::ModelSpec& model, const EngineVersion& engine, std::int64_t isl, std::int64_t osl) {
  const auto context = served_context(model, engine.engine);
  if (context > 0 && isl + osl > context) {
    const bool scaled = context != position_base(model);
    const char* how = engine.engine == Engine::vllm     ? "as vLLM derives it"
                      : engine.engine == Engine::sglang ? "as SGLang derives it"
                                                        : "the larger of vLLM's and SGLang's readings";
    throw InputError(fmt::format("--isl/--osl: {} + {} = {} tokens per request exceed {}'s context of {} positions, "
                                 "{} ({}in {}; vLLM and SGLang refuse a longer --max-model-len / "
                                 "--context-length) (expected ISL + OSL <= {})",
                                 isl, osl, isl + osl, model.name, context, how,
                                 scaled ? "max_position_embeddings and rope_scaling " : "max_position_embeddings ",
                                 model.source, context));
  }
}

/// The checkpoint's format where the GPU computes in it, else the widest step down it has. An
/// MXFP4 checkpoint stays MXFP4 without FP4 tensor cores (weight-only) where the engine runs it so,
/// and is refused where it does not: its publisher released no FP8 copy to step down to.
std::pair<WeightPrecision, std::string> default_weights(const model::ModelSpec& model, const cluster::GpuSpec& gpu,
                                                        const EngineVersion& engine) {
  auto weights = parse_weight_precision(model.checkpoint_weights, "the checkpoint's weights");
  if (weights == WeightPrecision::fp4 && model.checkpoint_mxfp4) {
    if (const auto problem = fp4_weights_problem(model, gpu, engine)) {
      throw InputError(fmt::format("--engine: {}", problem->detail));
    }
    return {weights, "the checkpoint's MXFP4"};
  }
  if (weights == WeightPrecision::fp4 && gpu.fp4_flops <= 0) {
    return {gpu.fp8_flops > 0 ? WeightPrecision::fp8 : WeightPrecision::bf16,
            fmt::format("the checkpoint is FP4 but {} has no FP4 tensor cores", gpu.display)};
  }
  if (weights == WeightPrecision::fp8 && gpu.fp8_flops <= 0) {
    return {WeightPrecision::bf16, fmt::format("the checkpoint is FP8 but {} has no FP8 tensor cores; serve a bf16 copy",
                                               gpu.display)};
  }
  return {weights, "the checkpoint's"};
}

} // namespace

ServeReport run_serve(const ServeRequest& request) {
  check_request(request);
  ServeReport report;
  report.engine = &find_engine_version(parse_engine(request.engine), request.engine_version);
  const auto query = parse_layout_query(request.layout);
  std::optional<WeightPrecision> requested = query.weights;
  if (!request.precision.empty()) {
    const auto precision = parse_weight_precision(request.precision, "--precision");
    if (requested && *requested != precision) {
      throw InputError(fmt::format("--precision {} and --layout weights={} disagree (expected one of them)",
                                   request.precision, to_string(*requested)));
    }
    requested = precision;
  }
  report.model = model::load_model(request.model);
  check_context(report.model, *report.engine, request.isl, request.osl);
  report.cluster = cluster::select_cluster(request.cluster, plan::k_default_cluster);
  report.top = request.top;
  report.layout_query = request.layout;
  auto& workload = report.workload;
  workload.isl = request.isl;
  workload.osl = request.osl;
  workload.request_rate = request.request_rate.value_or(0.0);
  workload.concurrency = request.concurrency.value_or(request.request_rate ? 0.0 : k_default_concurrency);
  workload.num_prompts = request.num_prompts.value_or(0.0);
  workload.cached_tokens = request.cached_tokens.value_or(0);
  report.default_workload = !request.concurrency && !request.request_rate;
  workload.ttft_slo_s = request.ttft_ms.value_or(0.0) / 1e3;
  workload.tpot_slo_s = request.tpot_ms.value_or(0.0) / 1e3;
  if (request.mtp_acceptance) {
    workload.mtp_acceptance = *request.mtp_acceptance;
  }
  report.kv = query.kv.value_or(KvPrecision::bf16);
  report.mtp = query.mtp.value_or(0);
  if (!report.cluster.homogeneous()) {
    report.notes.push_back(
        "mixed cluster: each node group is planned on its own and serves the whole workload alone (an engine instance "
        "runs one GPU model, and brix does not pair prefill and decode instances across groups); the table ranks all "
        "groups' plans together");
  }
  for (const auto& group : report.cluster.groups) {
    GroupPlans plans;
    plans.group = group;
    if (requested) {
      plans.weights = *requested;
      plans.weights_reason = request.precision.empty() ? "--layout weights=" : "--precision";
    } else {
      std::tie(plans.weights, plans.weights_reason) = default_weights(report.model, group.gpu, *report.engine);
    }
    if (plans.weights == WeightPrecision::fp4 && group.gpu.fp4_flops <= 0) {
      plans.weights_reason += fmt::format("; weight-only on {}, which has no FP4 tensor cores: 4-bit weights read, bf16 "
                                          "maths, as {} {} runs MXFP4 there",
                                          group.gpu.display, to_string(report.engine->engine), report.engine->version);
    }
    SearchRequest search;
    search.model = &report.model;
    search.group = group;
    search.network = report.cluster.network;
    search.oversubscription = report.cluster.oversubscription;
    search.engine = report.engine;
    search.workload = workload;
    search.fixed = query;
    search.weights = plans.weights;
    search.kv = report.kv;
    search.mtp = report.mtp;
    search.top = request.top;
    try {
      plans.result = search_serving(search);
    } catch (const InputError& error) {
      if (report.cluster.groups.size() == 1) {
        throw;
      }
      throw InputError(fmt::format("node group '{}': {}", group.name, error.what()));
    }
    report.groups.push_back(std::move(plans));
  }
  return report;
}

} // namespace brix::serve
