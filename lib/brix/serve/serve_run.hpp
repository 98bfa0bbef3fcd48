#pragma once
// `brix plan --serve` as a library call: check the request, load the model and cluster, resolve
// the workload, engine and formats, search every node group, and return a ServeReport.
// tools/brix/cmd_plan.cpp fills a ServeRequest and prints the report or an --emit target.

#include <brix/cluster/loader.hpp>
#include <brix/serve/serve_report.hpp>

#include <optional>
#include <string>

namespace brix::serve {

struct ServeRequest {
  std::string model = "deepseek-r1";
  cluster::ClusterChoice cluster;   ///< --cluster or the --nodes/--gpu shorthand
  std::string engine = "vllm";
  std::string engine_version;       ///< "" = the engine's current row
  std::string precision;            ///< --precision; "" = the checkpoint's
  std::string layout;               ///< --layout
  std::int64_t isl = 1024;
  std::int64_t osl = 1024;
  std::optional<double> concurrency;
  std::optional<double> request_rate;
  std::optional<double> num_prompts;  ///< --num-prompts: the benchmark client's finite run behind --concurrency
  std::optional<std::int64_t> cached_tokens; ///< --cached-tokens: prompt tokens per request in the prefix cache
  std::optional<double> ttft_ms;
  std::optional<double> tpot_ms;
  std::optional<double> mtp_acceptance;
  int top = 5;
};

/// The workload when neither --concurrency nor --request-rate is given: 64 requests in flight
/// (the example), ISL/OSL 1,024.
inline constexpr double k_default_concurrency = 64;

/// Checks the request (InputErrors name the option), then plans it.
[[nodiscard]] ServeReport run_serve(const ServeRequest& request);

} // namespace brix::serve
