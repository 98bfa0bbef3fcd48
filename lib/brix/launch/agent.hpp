#pragma once
// `brix launch`: one agent per node. Finds the nodes, hosts (node 0) or joins the rendezvous
// store, agrees on the world, runs the local workers under the supervisor, restarts all of them
// after a failure (up to --max-restarts) and returns the job's exit code.

#include <brix/launch/binding.hpp>
#include <brix/launch/environment.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace brix::launch {

struct LaunchOptions {
  NodeRequest nodes;
  int nproc_per_node = 0;      ///< 0: the plan's ranks per node, the hostfile's slots, else 1
  std::string master_addr;     ///< "" = node 0 as each node reaches it; also the store's host
                               ///< when rdzv_host is ""
  int master_port = 0;         ///< 0 = 29500 (multi-node) or a free port (one node)
  std::string rdzv_host;       ///< "" = master_addr, else node 0
  int rdzv_port = 0;           ///< 0 = 29400 (multi-node) or a free port (one node)
  std::string run_id;          ///< "" = SLURM_JOB_ID or a random id
  std::string token;           ///< "" = BRIX_JOB_TOKEN, else derived (see the man page)
  std::chrono::milliseconds rdzv_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds grace{std::chrono::seconds(30)};
  std::chrono::milliseconds monitor_interval{std::chrono::milliseconds(250)};
  std::chrono::milliseconds agent_timeout{std::chrono::seconds(60)};
  int max_restarts = 0;
  std::vector<int> no_restart_exit_codes;
  std::string log_dir;         ///< "" = $TMPDIR/brix-<run id>
  BindMode bind = BindMode::automatic;
  std::string topology_xml;    ///< hwloc XML instead of this machine (tests)
  bool console = true;         ///< copy worker output, prefixed, to the console
  std::string plan_path;       ///< --plan: BRIX_* plan coordinates for every worker
  std::vector<std::string> command;
};

/// Runs the agent; returns the exit code for `brix launch` (0, the failed worker's code, or
/// 128+signal). Usage errors throw InputError, failures to even start throw JobError.
[[nodiscard]] int run_launch(const LaunchOptions& options);

} // namespace brix::launch
