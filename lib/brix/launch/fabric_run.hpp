#pragma once
// `brix probe --bench`: this node's part of a fabric measurement. Runs the launch agent with
// `brix-worker fabric` as the workers' command; node 0, where rank 0 writes the result, reads
// it back for the report.

#include <brix/launch/agent.hpp>
#include <brix/probe/fabric_analysis.hpp>

#include <optional>
#include <string>
#include <vector>

namespace brix::launch {

struct FabricRunRequest {
  LaunchOptions launch; ///< nodes, ranks per node, ports, logs; `command` is set here
  std::string worker;           ///< the brix-worker executable
  std::string size = "64M";
  int warmup = 2;
  int iterations = 10;
  std::string backend = "auto";
  std::optional<probe::Throttle> throttle;
  std::string save; ///< node 0 copies the result file here ("" = not kept)
};

struct FabricRun {
  int launch_exit_code = 0;
  std::optional<probe::FabricResult> result; ///< on the node that ran rank 0
};

/// The worker command line for `request`, writing its result to `out`.
[[nodiscard]] std::vector<std::string> fabric_worker_command(const FabricRunRequest& request,
                                                             const std::string& out);

/// Runs this node's agent to the end. A failed job (launch exit code != 0) leaves no result.
[[nodiscard]] FabricRun run_fabric_probe(FabricRunRequest request);

/// brix-worker next to the running executable, else "brix-worker" (looked up on PATH).
[[nodiscard]] std::string default_worker_path();

} // namespace brix::launch
