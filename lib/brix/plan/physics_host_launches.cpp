// Host launches: the operators the host launches per layer, less what the CUDA graph scopes a
// run names capture (Megatron-Core's --cuda-graph-scope), and Megatron-Core's checks on a scope list.
#include <brix/plan/physics.hpp>

#include <utility>

namespace brix::plan {

bool add_cuda_graph_scope(CudaGraphScopes& scopes, std::string_view name) {
  const std::pair<std::string_view, bool CudaGraphScopes::*> names[] = {
      {"attn", &CudaGraphScopes::attn},           {"mlp", &CudaGraphScopes::mlp},
      {"moe", &CudaGraphScopes::moe},             {"moe_router", &CudaGraphScopes::moe_router},
      {"moe_preprocess", &CudaGraphScopes::moe_preprocess}, {"layer", &CudaGraphScopes::layer},
      {"full_iteration", &CudaGraphScopes::full_iteration}};
  for (const auto& [scope_name, member] : names) {
    if (name == scope_name) {
      scopes.*member = true;
      return true;
    }
  }
  return false;
}

std::string cuda_graph_scopes_problem(const CudaGraphScopes& scopes) {
  // Megatron-Core 2edffadb transformer_config.py: 'cuda_graph_scope must not contain both moe and
  // moe_router.', 'moe_preprocess cuda graph is only supported with moe_router cuda graph.'
  if (scopes.moe && scopes.moe_router) {
    return "moe and moe_router both named";
  }
  if (scopes.moe_preprocess && !scopes.moe_router) {
    return "moe_preprocess without moe_router";
  }
  return {};
}

HostLaunches host_launches_per_layer(const CudaGraphScopes& scopes, bool moe_layer) {
  if (scopes.full_iteration) {
    return {};
  }
  if (scopes.layer) {
    return {1.0, 0.0};
  }
  HostLaunches launches;
  launches.before_wait = scopes.attn ? 0.0 : k_ops_attention_block;
  bool captured = scopes.attn;
  if (!moe_layer) {
    launches.before_wait += scopes.mlp ? 0.0 : k_ops_mlp_block;
    captured = captured || scopes.mlp;
  } else if (scopes.moe) {
    captured = true; // the whole MLP side, router to combine, with static shapes
  } else {
    launches.before_wait += scopes.moe_router ? 0.0 : k_ops_moe_router;
    launches.before_wait += scopes.moe_router && scopes.moe_preprocess ? 0.0 : k_ops_moe_preprocess;
    // k_ops_mlp_block's FC1/activation/FC2 and casts are in k_ops_moe_dispatch_and_experts too (~8
    // operators counted twice). Counting them once makes fit and held-out worse (README, fid33):
    // the extra host time stands in for GPU time brix does not name on small-expert layers.
    launches.after_wait = k_ops_mlp_block + k_ops_moe_dispatch_and_experts;
    captured = captured || scopes.moe_router;
  }
  launches.before_wait += captured ? 1.0 : 0.0;
  return launches;
}

} // namespace brix::plan
