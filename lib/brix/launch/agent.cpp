#include <brix/launch/agent.hpp>

#include <brix/launch/agent_setup.hpp>
#include <brix/launch/job_record.hpp>
#include <brix/launch/job_channel.hpp>
#include <brix/launch/log_pump.hpp>
#include <brix/launch/plan_env.hpp>
#include <brix/launch/process.hpp>
#include <brix/launch/rendezvous.hpp>
#include <brix/launch/supervisor.hpp>
#include <brix/launch/worker_env.hpp>
#include <brix/monitor/event_log.hpp>
#include <brix/monitor/job_dir.hpp>
#include <brix/monitor/node_monitoring.hpp>
#include <brix/net/store_server.hpp>
#include <brix/util/clock.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace brix::launch {
namespace {

/// A stop signal arrived while no workers ran.
struct Interrupted {
  int signal = 0;
};

class Agent {
public:
  Agent(const LaunchOptions& options, NodeSet nodes, util::EnvLookup env)
      : m_options(options), m_nodes(std::move(nodes)), m_env(std::move(env)) {}
  int run();

private:
  void note(std::string_view line) const {
    fmt::print(stderr, "{}: {}\n", m_tag, line);
    std::fflush(stderr);
  }
  void check_interrupt() {
    if (const int signal = m_processes.take_stop_signal()) {
      throw Interrupted{signal};
    }
  }
  /// The files of --log-dir.
  [[nodiscard]] monitor::JobDirLayout job_dir() const { return monitor::JobDirLayout(m_log_dir); }
  std::unique_ptr<net::StoreServer> host_store(const std::string& address, int port);
  void connect(net::StoreClient& client);
  std::vector<WorkerSpec> worker_specs(const World& world, int attempt);
  std::optional<LaunchPlan> m_plan;
  void finish(net::StoreClient& client, int final_attempt);
  /// Node 0 hosts the job's monitor endpoint; every agent runs a node collector. Monitoring is
  /// an aid: when it cannot start the job still runs, and the agent says why.
  void start_monitoring(net::StoreClient& client);
  /// Appends to the job's event log on node 0 (where the endpoint keeps it).
  void log_event(const monitor::Event& event);
  /// launch.json / attempt_N/stop.json for `brix recover` (best effort: a note when it fails).
  void record_attempt(const World& world);
  void record_stop(int attempt, const StopRecord& stop);

  const LaunchOptions& m_options;
  NodeSet m_nodes;
  util::EnvLookup m_env;
  std::string m_tag;
  PosixProcessControl m_processes; // first: blocks the signals before any thread starts
  int m_nproc = 1;
  std::string m_run_id;
  std::string m_token;
  std::string m_node0; ///< node 0 as this node reaches it
  std::string m_self;  ///< this node's own address, for peers
  int m_store_port = 0;
  std::string m_log_dir;
  std::vector<std::string> m_command;
  std::unique_ptr<monitor::MonitorEndpoint> m_monitor_endpoint;
  std::unique_ptr<monitor::NodeMonitoring> m_node_monitoring;
};

std::unique_ptr<net::StoreServer> Agent::host_store(const std::string& address, int port) {
  // Off loopback, listen on every interface: node 0 may not know which of its addresses the
  // others resolve its name to.
  const auto bind_address = is_loopback(address) ? address : std::string();
  net::StoreServerOptions options{bind_address, port, m_token,
                                  [this](std::string_view line) {
                                    note(fmt::format("rendezvous store: {}", line));
                                  },
                                  4096};
  // A port still held by a store that is shutting down frees up within seconds.
  for (int attempt = 0;; ++attempt) {
    try {
      auto server = std::make_unique<net::StoreServer>(options);
      server->serve();
      return server;
    } catch (const net::NetError& e) {
      if (!e.retryable() || attempt >= 10) {
        throw JobError(fmt::format("cannot host the rendezvous store on {} port {}: {} (another "
                                   "job on this node? choose another with --rdzv-port)",
                                   m_nodes.name(), port, e.what()));
      }
      check_interrupt();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

void Agent::connect(net::StoreClient& client) {
  // One connect() for the whole rendezvous timeout, so that its backoff keeps growing (up to
  // 2 s, jittered) while node 0 is not up; a signal still ends the agent between attempts.
  try {
    client.connect();
  } catch (const net::StoreRefused& e) {
    throw JobError(e.what());
  } catch (const net::NetError& e) {
    throw JobError(fmt::format("node 0 ({}) never answered: {}", m_nodes.hosts.at(0), e.what()));
  }
}

std::vector<WorkerSpec> Agent::worker_specs(const World& world, int attempt) {
  const auto bindings = plan_bindings(m_nproc, m_options.bind, m_options.topology_xml);
  const auto plan_envs = m_plan ? plan_environment(*m_plan, world)
                                : std::vector<std::map<std::string, std::string>>();
  std::vector<std::string> base;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!m_node_monitoring || !std::string_view(*entry).starts_with("BRIX_MONITOR_SOCKET=")) {
      base.emplace_back(*entry);
    }
  }
  if (m_node_monitoring) {
    base.push_back(fmt::format("BRIX_MONITOR_SOCKET={}", m_node_monitoring->socket_path()));
  }
  std::vector<WorkerSpec> specs;
  const int first = world.first_rank(m_nodes.node_rank);
  for (int local = 0; local < m_nproc; ++local) {
    WorkerSpec spec;
    spec.rank = first + local;
    spec.local_rank = local;
    spec.argv = m_command;
    spec.stdout_path = job_dir().rank_file(attempt, spec.rank, "out");
    spec.stderr_path = job_dir().rank_file(attempt, spec.rank, "err");
    spec.error_file = job_dir().rank_file(attempt, spec.rank, "error.json");
    std::filesystem::remove(spec.error_file);
    spec.cpus = bindings[local].cpus;
    spec.numa_node = bindings[local].numa_node;
    WorkerContext context;
    context.world = &world;
    context.node_rank = m_nodes.node_rank;
    context.local_rank = local;
    context.max_restarts = m_options.max_restarts;
    context.master_addr = m_options.master_addr.empty() ? m_node0 : m_options.master_addr;
    context.error_file = spec.error_file;
    context.log_dir = job_dir().attempt_dir(attempt);
    context.store_addr = m_node0;
    context.node_address = m_self;
    context.store_port = m_store_port;
    context.store_token = m_token;
    context.binding = bindings[local];
    if (m_plan) {
      context.extra = plan_envs.at(static_cast<std::size_t>(spec.rank));
    }
    spec.env = worker_environment(base, context);
    specs.push_back(std::move(spec));
  }
  return specs;
}

void Agent::finish(net::StoreClient& client, int final_attempt) {
  // Node 0 keeps the store up until every agent has read how the job ended.
  try {
    client.set(fmt::format("job/final/{}", m_nodes.node_rank), std::to_string(final_attempt));
    if (m_nodes.node_rank == 0) {
      std::vector<std::string> keys;
      for (int node = 0; node < m_nodes.nnodes(); ++node) {
        keys.push_back(fmt::format("job/final/{}", node));
      }
      (void)client.wait(keys, std::chrono::seconds(10));
    }
  } catch (const net::NetError&) {
    // Node 0 already gone: nothing left to tell it.
  }
}

void Agent::start_monitoring(net::StoreClient& client) {
  const std::string key = "monitor/endpoint";
  try {
    if (m_nodes.node_rank == 0) {
      try {
        m_monitor_endpoint = monitor::start_job_endpoint(m_log_dir, m_node0, m_token, m_run_id);
        client.set(key, fmt::format("{}:{}", m_node0, m_monitor_endpoint->port()));
      } catch (const JobError& e) {
        client.set(key, "");
        throw;
      }
    }
    const auto address = client.wait_get(key, std::chrono::seconds(60));
    if (address.empty()) {
      throw JobError("node 0 could not start the monitor endpoint");
    }
    m_node_monitoring = std::make_unique<monitor::NodeMonitoring>(
        m_nodes.name(), monitor_socket_path(m_run_id, m_nodes.node_rank, m_env),
        net::parse_host_port(address, "", "monitor endpoint"), m_token);
    if (m_nodes.node_rank == 0) {
      note(fmt::format("monitor: {} (brix monitor {})", address, m_log_dir));
    }
  } catch (const std::exception& e) {
    note(fmt::format("monitoring disabled: {}", e.what()));
  }
}

void Agent::log_event(const monitor::Event& event) {
  if (m_nodes.node_rank != 0 || !m_monitor_endpoint) {
    return;
  }
  try {
    monitor::EventLog(job_dir().event_log()).append(event);
  } catch (const JobError& e) {
    note(e.what());
  }
}

void Agent::record_attempt(const World& world) {
  if (m_nodes.node_rank != 0) {
    return;
  }
  JobRecord record;
  record.run_id = m_run_id;
  record.slurm_job_id = m_nodes.job_id;
  record.attempt = world.attempt;
  record.max_restarts = m_options.max_restarts;
  record.nodes = world.nodes;
  if (!m_options.plan_path.empty()) {
    record.plan_path = std::filesystem::absolute(m_options.plan_path).string();
  }
  record.command = m_options.command;
  record.launch_args = own_launch_args();
  record.time = util::unix_seconds();
  try {
    write_job_record(m_log_dir, record);
  } catch (const std::exception& e) {
    note(fmt::format("cannot write {}: {}", job_dir().launch_record(), e.what()));
  }
}

void Agent::record_stop(int attempt, const StopRecord& stop) {
  if (!writes_job_records(m_nodes.node_rank, stop)) {
    return;
  }
  try {
    write_stop_record(m_log_dir, attempt, stop);
  } catch (const std::exception& e) {
    note(fmt::format("cannot write {}: {}", job_dir().stop_record(attempt), e.what()));
  }
}

int Agent::run() {
  m_tag = m_nodes.source == "single node" ? "brix launch"
                                          : fmt::format("brix launch [{}]", m_nodes.name());
  const bool single = m_nodes.source == "single node";
  const int me = m_nodes.node_rank;
  if (!m_options.plan_path.empty()) {
    m_plan = load_launch_plan(m_options.plan_path);
  }
  m_nproc = m_options.nproc_per_node;
  if (m_nproc <= 0 && m_plan) {
    m_nproc = plan_nproc_per_node(*m_plan, m_nodes.nnodes());
  } else if (m_nproc <= 0) {
    m_nproc = !m_nodes.slots.empty() && m_nodes.slots[me] > 0 ? m_nodes.slots[me] : 1;
  }
  if (m_options.command.empty()) {
    throw InputError("no command to launch (expected brix launch [options] -- CMD ARGS...)");
  }
  m_command = m_options.command;
  m_command[0] = resolve_program(m_command[0], m_env("PATH").value_or("/usr/bin:/bin"));
  const int rdzv_port = m_options.rdzv_port > 0 ? m_options.rdzv_port : (single ? 0 : 29400);
  m_run_id = choose_run_id(m_options.run_id, m_env, m_nodes, rdzv_port);
  m_token = choose_token(m_options.token, m_env, m_run_id, single);
  if (me == 0 && token_is_guessable(m_options.token, m_env, single)) {
    fmt::print(stderr, "brix launch: warning: BRIX_JOB_TOKEN is not set: the job token is derived "
                       "from the run id and user id, so others can guess it; set a secret "
                       "BRIX_JOB_TOKEN on every node (scripts/sbatch-brix.sh does)\n");
  }
  // Without --rdzv-endpoint the store is on node 0 at --master-addr when given (as torchrun's
  // static rendezvous does), else at node 0's name resolved.
  m_node0 = !m_options.rdzv_host.empty()   ? m_options.rdzv_host
            : !m_options.master_addr.empty() ? m_options.master_addr
                                             : node_address(m_nodes, 0);
  m_self = me == 0 && m_options.rdzv_host.empty() ? m_node0 : node_address(m_nodes, me);
  int master_port = m_options.master_port;
  if (master_port <= 0) {
    master_port = single ? free_local_port() : 29500;
  }
  m_log_dir = m_options.log_dir.empty()
                  ? fmt::format("{}/brix-{}", m_env("TMPDIR").value_or("/tmp"), m_run_id)
                  : m_options.log_dir;

  std::unique_ptr<net::StoreServer> server;
  if (me == 0) {
    const auto master_bind = is_loopback(m_node0) ? m_node0 : std::string();
    if (m_options.master_port > 0 || !single) {
      if (port_in_use(master_bind, master_port)) {
        throw JobError(fmt::format("master port {} is already in use on {} (another job on this "
                                   "node? choose another with --master-port)",
                                   master_port, m_nodes.name()));
      }
    }
    server = host_store(m_node0, rdzv_port);
  }
  m_store_port = server ? server->port() : rdzv_port;

  net::TcpConnector connector;
  net::StoreClientOptions client_options;
  client_options.token = m_token;
  client_options.name = fmt::format("agent {} (node rank {})", m_nodes.name(), me);
  client_options.connect_timeout = m_options.rdzv_timeout;
  client_options.between_attempts = [this] { check_interrupt(); };
  net::StoreClient client(connector, {m_node0, m_store_port}, client_options);

  // A second connection that only watches for a stop, so that one posted by any node ends this
  // node's attempt at once (see StoreJobChannel); the first stays free for requests.
  client_options.name += " watch";
  net::StoreClient watch(connector, {m_node0, m_store_port}, client_options);

  try {
    connect(client);
    connect(watch);
    start_monitoring(client);
    AgentInfo info{me, m_nodes.name(), m_self, m_nproc, m_nodes.nnodes()};
    RendezvousOptions rendezvous;
    rendezvous.nnodes = m_nodes.nnodes();
    rendezvous.timeout = m_options.rdzv_timeout;
    rendezvous.run_id = m_run_id;
    rendezvous.master_addr = m_options.master_addr.empty() ? m_node0 : m_options.master_addr;
    rendezvous.master_port = master_port;
    rendezvous.hosts = m_nodes.hosts;
    rendezvous.check_interrupt = [this] { check_interrupt(); };

    for (int attempt = 0;; ++attempt) {
      const auto world = join_rendezvous(client, info, attempt, rendezvous);
      std::filesystem::create_directories(job_dir().attempt_dir(attempt));
      record_attempt(world);
      if (me == 0) {
        note(fmt::format("attempt {}: {} node(s), {} rank(s), master {}:{}, run id {}, logs {}",
                         attempt, world.nodes.size(), world.world_size(), rendezvous.master_addr,
                         world.master_port, m_run_id, m_log_dir));
      }
      const auto specs = worker_specs(world, attempt);
      AttemptResult result;
      {
        LogPump pump;
        JobChannelOptions channel_options;
        channel_options.agent_timeout = m_options.agent_timeout;
        StoreJobChannel channel(client, world, me, channel_options, util::system_clock(), &watch);
        SupervisorOptions supervision;
        supervision.node = m_nodes.name();
        supervision.node_rank = me;
        supervision.grace = m_options.grace;
        supervision.monitor_interval = m_options.monitor_interval;
        supervision.no_restart_exit_codes = m_options.no_restart_exit_codes;
        Supervisor supervisor(m_processes, m_processes, util::system_clock(), supervision,
                              [this](std::string_view line) { note(line); });
        const bool console = m_options.console;
        std::map<int, std::uint64_t> stderr_source; // by rank
        const auto on_spawn = [&](const WorkerSpec& spec, const SpawnedWorker& w) {
          const auto prefix = fmt::format("[rank {}] ", spec.rank);
          pump.add(w.stdout_fd, spec.stdout_path, prefix, console ? STDOUT_FILENO : -1);
          stderr_source[spec.rank] =
              pump.add(w.stderr_fd, spec.stderr_path, prefix, console ? STDERR_FILENO : -1);
          if (m_node_monitoring) {
            m_node_monitoring->expect_rank(spec.rank, w.pid);
          }
        };
        // The failure report quotes the stderr log: let the pump finish copying it first.
        const auto flush_output = [&](const WorkerSpec& spec) {
          (void)pump.wait_eof(stderr_source.at(spec.rank), std::chrono::milliseconds(500));
        };
        result = supervisor.run(specs, channel, on_spawn, flush_output);
        pump.drain(std::chrono::seconds(2));
      }
      const auto& stop = result.stop;
      record_stop(attempt, stop);
      if (stop.kind == StopKind::failed) {
        log_event(monitor::make_exit_event(stop.time, stop.node, stop.rank,
                                           stop.signal == 0 ? std::optional<int>(stop.exit_code) : std::nullopt,
                                           stop.signal != 0 ? std::optional<int>(stop.signal) : std::nullopt));
      }
      if (stop.kind == StopKind::done) {
        if (me == 0) {
          note(fmt::format("job done: {} rank(s) exited 0 (attempt {})", world.world_size(),
                           attempt));
        }
        finish(client, attempt);
        return 0;
      }
      // The node a failure happened on reports it; a lost node, everyone (nobody else may).
      if (stop.node_rank == me || stop.kind == StopKind::lost) {
        for (const auto& line :
             util::split(failure_report(stop, attempt, m_options.max_restarts), '\n')) {
          if (!line.empty()) {
            note(line);
          }
        }
      }
      if (result.received_signal != 0) {
        finish(client, attempt);
        return 128 + result.received_signal;
      }
      if (stop.kind == StopKind::failed && stop.restartable && attempt < m_options.max_restarts) {
        if (me == 0) {
          note(fmt::format("restarting every worker: restart {} of {} (rank {} on {} failed)",
                           attempt + 1, m_options.max_restarts, stop.rank, stop.node));
          log_event(monitor::make_restart_event(util::unix_seconds(), stop.node, stop.rank, attempt,
                                                m_options.max_restarts));
        }
        check_interrupt();
        continue;
      }
      if (me == 0) {
        note(fmt::format("job failed after {} restart(s): {} on node {}", attempt,
                         stop.kind == StopKind::failed ? fmt::format("rank {}", stop.rank)
                                                       : to_string(stop.kind),
                         stop.node));
      }
      finish(client, attempt);
      return exit_code_for(stop);
    }
  } catch (const Interrupted& interrupted) {
    note(fmt::format("received {} before workers started: stopping", signal_name(interrupted.signal)));
    return 128 + interrupted.signal;
  }
}

} // namespace

int run_launch(const LaunchOptions& options) {
  auto env = util::process_environment();
  auto nodes = detect_nodes(options.nodes, env);
  Agent agent(options, std::move(nodes), std::move(env));
  return agent.run();
}

} // namespace brix::launch
