#pragma once
// The shell that runs a serving deployment's node NODE_RANK: the fabric environment, then one
// `case "$NODE_RANK"` arm per node with that node's engine processes (and the P/D router on
// its node). It reads MODEL and NODE_0 … NODE_{n-1} (the nodes' addresses); `--emit vllm|sglang|
// trtllm` wraps it for hand launches, `--emit slurm` sets them from the allocation under
// `brix launch`.

#include <brix/serve/deployment.hpp>

#include <string>
#include <vector>

namespace brix::serve {

/// The lines every node runs.
[[nodiscard]] std::string node_script(const Deployment& deployment);

/// The NODE_i variables the script reads, in order.
[[nodiscard]] std::vector<std::string> node_variables(const Deployment& deployment);

/// "MODEL=${MODEL:-deepseek-ai/DeepSeek-R1}" or a line requiring MODEL when brix knows no
/// checkpoint for the plan's weight format.
[[nodiscard]] std::string model_line(const Deployment& deployment);

/// A few comment lines: what the plan is and what it is predicted to deliver.
[[nodiscard]] std::string plan_comment(const Deployment& deployment);

} // namespace brix::serve
