#pragma once
// Kubernetes manifests for a serving plan: a LeaderWorkerSet per role (one group per engine
// instance, group size = its nodes) wired through LWS_LEADER_ADDRESS / LWS_GROUP_SIZE /
// LWS_WORKER_INDEX, with a Service (and the P/D router for disaggregated plans); and, for vLLM
// plans that run over Ray, AIBrix's RayClusterFleet.

#include <brix/serve/emit_targets.hpp>

namespace brix::serve {

/// `--emit k8s`: LeaderWorkerSet(s) and Service(s), as one multi-document YAML stream.
[[nodiscard]] Emitted write_k8s(const ServeReport& report);
/// `--emit aibrix`: a RayClusterFleet (vLLM, aggregated, TP/PP over Ray).
[[nodiscard]] Emitted write_aibrix(const ServeReport& report);

} // namespace brix::serve
