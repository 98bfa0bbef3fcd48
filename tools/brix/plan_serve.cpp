// The serving half of `brix plan`: its options and the call into lib/brix/serve.
#include "plan_serve.hpp"

#include <brix/serve/calibration.hpp>
#include <brix/serve/emit_targets.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/print.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>
#include <iostream>

namespace brix::cli {

void add_serve_options(CLI::App& plan, ServeCli& cli) {
  auto& request = cli.request;
  cli.flag = plan.add_flag("--serve", cli.serve,
                           "Plan serving (inference) instead of training: vLLM/SGLang/TensorRT-LLM layouts, TTFT, TPOT, "
                           "tokens/s (see SERVING in man brix-plan)");
  cli.serve_only = {
      plan.add_option("--isl", request.isl, "With --serve: prompt tokens per request")->default_str("1024"),
      plan.add_option("--osl", request.osl, "With --serve: output tokens per request")->default_str("1024"),
      plan.add_option("--concurrency", request.concurrency,
                      "With --serve: requests in flight (closed loop; default 64 when no --request-rate)"),
      plan.add_option("--request-rate", request.request_rate, "With --serve: requests per second arriving (open loop)"),
      plan.add_option("--num-prompts", request.num_prompts,
                      "With --serve and --concurrency: requests a benchmark client sends in all (its finite run: "
                      "first wave, steady state, drain)"),
      plan.add_option("--cached-tokens", request.cached_tokens,
                      "With --serve: prompt tokens per request the engine's prefix cache already holds (a shared "
                      "system prompt; prefill computes the rest)"),
      plan.add_option("--ttft-ms", request.ttft_ms, "With --serve: time-to-first-token SLO, ms"),
      plan.add_option("--tpot-ms", request.tpot_ms, "With --serve: time-per-output-token SLO, ms"),
      plan.add_option("--engine", request.engine, "With --serve: vllm, sglang or trtllm")->default_str("vllm"),
      plan.add_option("--engine-version", request.engine_version,
                      "With --serve: the engine version whose flags to emit (default: the current row)"),
      plan.add_option("--mtp-acceptance", request.mtp_acceptance,
                      "With --serve and mtp=N: probability each drafted token is accepted (default 0.7)")};
}

void check_serve_options(const ServeCli& cli, const std::vector<CLI::Option*>& training_only) {
  if (cli.serve) {
    for (const auto* option : training_only) {
      if (option->count() > 0) {
        throw InputError(fmt::format("{}: a training option, not with --serve (expected serving options: --isl, --osl, "
                                     "--concurrency or --request-rate, --ttft-ms, --tpot-ms, --engine, --layout)",
                                     option->get_name()));
      }
    }
    return;
  }
  for (const auto* option : cli.serve_only) {
    if (option->count() > 0) {
      throw InputError(fmt::format("{}: a serving option (expected --serve with it)", option->get_name()));
    }
  }
}

int run_serve_plan(ServeCli& cli, const SharedPlanOptions& shared) {
  auto& request = cli.request;
  request.model = shared.model;
  request.cluster = shared.cluster;
  request.layout = shared.layout;
  request.precision = shared.precision;
  request.top = shared.top;
  if (shared.layout_given && util::trim(shared.layout).empty()) {
    throw InputError("--layout: empty (expected fields such as tp=8,ep=8; leave --layout out to search every layout)");
  }
  const auto format = util::parse_format(shared.format);
  const serve::EmitTarget* target = nullptr;
  if (!shared.emit.empty()) {
    target = &serve::find_emit_target(shared.emit);
    const bool engine_target = shared.emit == "vllm" || shared.emit == "sglang" || shared.emit == "trtllm";
    if (engine_target && shared.emit != request.engine) {
      // Checked before planning: the flags and memory rules are the engine's.
      throw InputError(fmt::format("--emit {0}: plans are costed for --engine {1} (expected --engine {0} with it)",
                                   shared.emit, request.engine));
    }
    if (format != util::Format::text) {
      throw InputError(fmt::format("--format: not with --emit (--emit {} chooses the output)", shared.emit));
    }
  }
  const auto report = serve::run_serve(request);
  if (target == nullptr) {
    util::print(report, format);
    return serve::exit_code(report);
  }
  const auto emitted = target->write(report);
  for (const auto& warning : emitted.warnings) {
    std::cerr << warning << '\n';
  }
  if (shared.output.empty()) {
    std::cout << emitted.text;
  } else {
    util::write_file_atomically(shared.output, emitted.text);
  }
  return 0;
}

void run_serve_calibration(const std::string& file, const std::string& format) {
  util::print(serve::run_serving_calibration(file.empty() ? serve::default_serving_calibration_file() : file),
              util::parse_format(format));
}

} // namespace brix::cli
