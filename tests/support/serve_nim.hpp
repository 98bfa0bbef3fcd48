#pragma once
// NVIDIA NIM's Llama-3.3-70B deployment (NIM LLM Benchmarking Guide 1.0.0): FP8 weights and KV
// cache, TensorRT-LLM, TP 2 on H100s, 5,000 prompt and 500 output tokens — the held-out run whose
// 100 requests in flight exceed what its KV pool runs at once. What the KV-admission tests cost.

#include <brix/model/loader.hpp>
#include <brix/serve/engines.hpp>
#include <brix/serve/performance.hpp>
#include <support/serve_device.hpp>

namespace brix::test {

struct NimLlama70b {
  model::ModelSpec model = model::load_model("llama-3.1-70b");
  serve::ServeDevice device = serve_device_on("h100-sxm");
  serve::RoleContext context{&model, &device, &serve::find_engine_version(serve::Engine::trtllm, "1.0"),
                             serve::WeightPrecision::fp8, serve::KvPrecision::fp8};
  serve::RolePlan plan{serve::InstanceShape{2, 1, 1, 1, 1}, 1};

  [[nodiscard]] static serve::Workload at(double concurrency) {
    return {.isl = 5000, .osl = 500, .concurrency = concurrency};
  }
  /// The instance sized for `workload`, its operating point set by aggregated_performance.
  [[nodiscard]] serve::RoleEstimate role_for(const serve::Workload& workload) const {
    return serve::cost_role(context, plan, workload, serve::k_chunk_tokens);
  }
};

} // namespace brix::test
