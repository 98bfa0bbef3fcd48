// brix launch: the torchrun of brix. Parses flags and hands them to brix::launch::run_launch.
#include "command.hpp"

#include <brix/launch/agent.hpp>
#include <brix/launch/agent_setup.hpp>
#include <brix/monitor/job_dir.hpp>
#include <brix/probe/hwloc_topology.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::cli {
namespace {

struct LaunchFlags {
  launch::LaunchOptions options;
  int node_rank = -1;
  std::string nnodes;
  bool standalone = false;
  std::string rdzv_backend = "c10d";
  std::string rdzv_endpoint;
  double rdzv_timeout_s = 600;
  double grace_s = 30;
  double monitor_interval_s = 0.25;
  double agent_timeout_s = 60;
  std::string no_restart_exit_codes;
  std::string cpu_bind = "auto";
  bool quiet = false;
};

std::chrono::milliseconds seconds(double value, std::string_view flag) {
  if (!(value > 0) || value > 1e7) {
    throw InputError(fmt::format("{} {} (expected seconds > 0)", flag, value));
  }
  return std::chrono::milliseconds(static_cast<long long>(value * 1000));
}

void run(LaunchFlags& flags, CommandContext& context) {
  auto& options = flags.options;
  if (flags.node_rank >= 0) {
    options.nodes.node_rank = flags.node_rank;
  }
  if (!flags.nnodes.empty()) {
    options.nodes.nnodes = launch::parse_nnodes(flags.nnodes);
  }
  launch::check_rdzv_backend(flags.rdzv_backend);
  options.nodes.standalone = flags.standalone;
  if (flags.standalone && !flags.rdzv_endpoint.empty()) {
    throw InputError(fmt::format("--standalone with --rdzv-endpoint '{}' (expected one of them: "
                                 "--standalone hosts the rendezvous on this node)",
                                 flags.rdzv_endpoint));
  }
  if (!flags.rdzv_endpoint.empty()) {
    const auto colon = flags.rdzv_endpoint.rfind(':');
    options.rdzv_host = flags.rdzv_endpoint.substr(0, colon);
    if (colon != std::string::npos) {
      const auto port = util::parse_int(flags.rdzv_endpoint.substr(colon + 1));
      if (!port || *port <= 0 || *port > 65535) {
        throw InputError(fmt::format("--rdzv-endpoint '{}' (expected HOST[:PORT])",
                                     flags.rdzv_endpoint));
      }
      options.rdzv_port = static_cast<int>(*port);
    }
  }
  options.rdzv_timeout = seconds(flags.rdzv_timeout_s, "--rdzv-timeout");
  options.grace = seconds(flags.grace_s, "--grace");
  options.monitor_interval = seconds(flags.monitor_interval_s, "--monitor-interval");
  options.agent_timeout = seconds(flags.agent_timeout_s, "--agent-timeout");
  if (!flags.no_restart_exit_codes.empty()) {
    for (const auto& item : util::split(flags.no_restart_exit_codes, ',')) {
      const auto code = util::parse_int(util::trim(item));
      if (!code || *code < 1 || *code > 255) {
        throw InputError(fmt::format("--no-restart-exit-codes '{}': '{}' (expected exit codes "
                                     "1-255, comma-separated)",
                                     flags.no_restart_exit_codes, item));
      }
      options.no_restart_exit_codes.push_back(static_cast<int>(*code));
    }
  }
  options.bind = launch::parse_bind_mode(flags.cpu_bind);
  if (!options.topology_xml.empty()) {
    // Read now, before any directory, store or worker exists: the agent binds from it only
    // after the rendezvous.
    (void)probe::HwlocTopology::load_xml(options.topology_xml);
  }
  options.console = !flags.quiet;
  context.exit_code = launch::run_launch(options);
}

} // namespace

void add_launch_command(CLI::App& app, CommandContext& context) {
  auto flags = std::make_shared<LaunchFlags>();
  auto& o = flags->options;
  auto* command = app.add_subcommand(
      "launch", "Start workers on every node (torchrun-compatible environment), supervise them");
  command->footer(
      "Run one agent per node: under Slurm `srun --ntasks-per-node=1 brix launch ... -- CMD`, "
      "elsewhere with --hosts/--hostfile and --node-rank on each node. Exit code: 0 when every "
      "worker exited 0, else the first failure's exit code (128+N for signal N). "
      "See man/brix-launch.1.");
  command->add_option("--plan", o.plan_path,
                      "plan.yaml (brix plan --emit yaml): BRIX_TP_RANK, BRIX_PP_RANK, ... per rank");
  command->add_option("--nproc-per-node,--nproc_per_node", o.nproc_per_node,
                      "Workers per node (default: the plan's ranks per node, the hostfile's "
                      "slots, else 1)")
      ->envname("PET_NPROC_PER_NODE")
      ->check(CLI::Range(1, 4096));
  command->add_option("--nnodes", flags->nnodes,
                      "Expected number of nodes, N or N:N (a consistency check; no elastic ranges)")
      ->envname("PET_NNODES");
  command->add_flag("--standalone", flags->standalone,
                    "One node, this one, with a local rendezvous (even under Slurm)")
      ->envname("PET_STANDALONE");
  command->add_option("--rdzv-backend,--rdzv_backend", flags->rdzv_backend,
                      "Rendezvous backend: c10d, the only one (brix's own store)")
      ->envname("PET_RDZV_BACKEND");
  command->add_option("--node-rank,--node_rank", flags->node_rank,
                      "This node's rank in --hosts/--hostfile (under Slurm: SLURM_NODEID)")
      ->envname("PET_NODE_RANK")
      ->check(CLI::Range(0, 1000000));
  command->add_option("--hosts", o.nodes.hosts, "Node names in order, hostlist syntax: n[01-04]");
  command->add_option("--hostfile", o.nodes.hostfile, "DeepSpeed hostfile: lines `host slots=N`");
  command->add_option("--master-addr,--master_addr", o.master_addr,
                      "MASTER_ADDR for the workers (default: node 0's address)")
      ->envname("PET_MASTER_ADDR");
  command->add_option("--master-port,--master_port", o.master_port,
                      "MASTER_PORT (default 29500; one node: a free port)")
      ->envname("PET_MASTER_PORT")
      ->check(CLI::Range(1, 65535));
  command->add_option("--rdzv-endpoint,--rdzv_endpoint", flags->rdzv_endpoint,
                      "Rendezvous store HOST[:PORT] (default: node 0, port 29400)")
      ->envname("PET_RDZV_ENDPOINT");
  command->add_option("--rdzv-port", o.rdzv_port, "Rendezvous store port (default 29400)")
      ->check(CLI::Range(1, 65535));
  command->add_option("--rdzv-id,--rdzv_id", o.run_id,
                      "Run id, TORCHELASTIC_RUN_ID (default: slurm-$SLURM_JOB_ID or random)")
      ->envname("PET_RDZV_ID");
  command->add_option("--rdzv-timeout", flags->rdzv_timeout_s,
                      "Seconds to wait for every node to join (default 600)");
  command->add_option("--max-restarts,--max_restarts", o.max_restarts,
                      "Restart every worker up to N times after a failure (default 0)")
      ->envname("PET_MAX_RESTARTS")
      ->check(CLI::Range(0, 1000000));
  command->add_option("--no-restart-exit-codes", flags->no_restart_exit_codes,
                      "Worker exit codes that end the job without restart, e.g. 3,4");
  command->add_option("--grace", flags->grace_s,
                      "Seconds between the stop signal and SIGKILL (default 30)");
  command->add_option("--monitor-interval,--monitor_interval", flags->monitor_interval_s,
                      "Seconds between checks of the other nodes (default 0.25)")
      ->envname("PET_MONITOR_INTERVAL");
  command->add_option("--agent-timeout", flags->agent_timeout_s,
                      "A node silent this many seconds is lost (default 60)");
  command->add_option("--log-dir,--log_dir", o.log_dir,
                      "Logs: " + monitor::JobDirLayout("DIR").rank_file("N", "R", "{out,err}") +
                          " (default $TMPDIR/brix-RUNID)")
      ->envname("PET_LOG_DIR");
  command->add_option("--cpu-bind", flags->cpu_bind,
                      "Worker CPU/NUMA binding: auto (by GPU, else cores), none, cores, numa")
      ->default_str("auto");
  command->add_option("--topology-xml", o.topology_xml,
                      "hwloc XML topology to bind by instead of this machine's");
  command->add_flag("--quiet", flags->quiet, "Do not copy worker output to the console");
  command->add_option("command", o.command, "-- CMD ARGS...: the worker command")->required();
  command->positionals_at_end();
  command->callback([flags, &context] { run(*flags, context); });
}

} // namespace brix::cli
