#include <brix/monitor/rules.hpp>

namespace brix::monitor {

// A copy of configs/monitor/rules.yaml (a unit test keeps the two equal), so that brix needs
// no installed data files.
std::string_view default_rules_text() {
  return R"yaml(# brix monitor: default threshold rules (man brix-monitor, RULES).
# Each rule watches one metric on every rank (reported values) or GPU (NVML figures):
#   normal/abnormal  thresholds, '< x' or '> x', units ns us ms s m h %
#   for              how long a worse zone must hold before the state changes
#   hysteresis       how far back past a threshold a value must come before the state improves
#   actions          event (log it), suspect (mark the node for `brix recover`), hook (run `hook`)
brix_monitor_rules: 1
rules:
  - name: inter_node_latency
    metric: internode_latency        # seconds, reported by the workers
    normal: "< 50us"
    abnormal: "> 200us"
    for: 30s
    hysteresis: 10us
    actions: [event, suspect]
  - name: gradient_variance
    metric: grad_variance            # reported by the workers
    normal: "< 1e-4"
    abnormal: "> 1e-3"
    for: 60s
    hysteresis: 2e-5
    actions: [event]
  - name: compute_utilization
    metric: gpu_utilization          # percent, NVML (DCGM_FI_DEV_GPU_UTIL) or reported
    normal: "> 85%"
    abnormal: "< 60%"
    for: 60s
    hysteresis: 5%
    actions: [event, suspect]
  - name: memory_fragmentation
    metric: memory_fragmentation     # percent of reserved memory not allocated, reported
    normal: "< 15%"
    abnormal: "> 30%"
    for: 120s
    hysteresis: 3%
    actions: [event]
)yaml";
}

} // namespace brix::monitor
