// brix monitor: watch a running job (view, --once snapshot, Prometheus, the --http dashboard),
// host the job's monitor endpoint (`serve`), run a node collector (`collect`), check a rules file
// (`rules`) or print the Grafana dashboard (`grafana`).
#include "command.hpp"

#include <brix/monitor/clock.hpp>
#include <brix/monitor/collector_agent.hpp>
#include <brix/monitor/dashboard.hpp>
#include <brix/monitor/endpoint.hpp>
#include <brix/monitor/grafana.hpp>
#include <brix/monitor/job_dir.hpp>
#include <brix/monitor/live.hpp>
#include <brix/monitor/report_protocol.hpp>
#include <brix/monitor/rules.hpp>
#include <brix/monitor/rules_report.hpp>
#include <brix/monitor/wire.hpp>
#include <brix/util/error.hpp>
#include <brix/util/file_system.hpp>
#include <brix/util/input_file.hpp>
#include <brix/util/output.hpp>
#include <brix/util/print.hpp>
#include <brix/util/strings.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <unistd.h>

namespace brix::cli {

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

/// SIGINT/SIGTERM/SIGHUP end the loop cleanly (sockets removed, last snapshot written).
void stop_on_signals() {
  struct sigaction action{};
  action.sa_handler = on_signal;
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) {
    ::sigaction(signal, &action, nullptr);
  }
}

struct ViewArgs {
  std::string target;
  std::string format;
  bool once = false;
  double refresh = 2.0;
  int count = 0;
  bool quiet = false;
  int max_ranks = 64;
  int max_nodes = 32;
  std::string prometheus;
  std::string http;
  std::string textfile;
  std::string save_measured;
  std::string token_file;
};

struct ServeArgs {
  std::string job_dir;
  std::string listen = "127.0.0.1:0";
  std::string rules;
  std::string job;
  int world_size = 0;
  double heartbeat_timeout = 30;
  double interval = 1;
  double straggler_ratio = 1.15;
  int straggler_steps = 5;
  std::string token_file;
};

struct CollectArgs {
  std::string endpoint;
  std::string job_dir;
  std::string node;
  std::string socket;
  double interval = 1;
  std::string token_file;
};

int run_view(const ViewArgs& args) {
  monitor::LiveOptions options;
  options.format = util::parse_format(args.format);
  options.once = args.once;
  if (options.format != util::Format::text && !options.once) {
    throw InputError("--format json|yaml prints one snapshot (expected --once with it)");
  }
  if (args.once && !args.prometheus.empty()) {
    throw InputError("--prometheus serves until stopped (expected it without --once)");
  }
  if (!(args.refresh > 0)) {
    throw InputError(fmt::format("--refresh must be > 0 seconds (got {})", args.refresh));
  }
  if (args.max_ranks < 0 || args.max_nodes < 0) {
    throw InputError(fmt::format("--max-ranks and --max-nodes must be >= 0 (got {} and {}; 0 lists all)",
                                 args.max_ranks, args.max_nodes));
  }
  options.refresh_seconds = args.refresh;
  options.count = args.count;
  options.quiet = args.quiet;
  options.max_ranks = args.max_ranks;
  options.max_nodes = args.max_nodes;
  options.colour = util::use_colour(STDOUT_FILENO);
  options.in_place = !args.once && ::isatty(STDOUT_FILENO) == 1 && !args.quiet;
  if (!args.prometheus.empty()) {
    options.prometheus = net::parse_host_port(args.prometheus, "127.0.0.1", "--prometheus");
  }
  if (!args.http.empty()) {
    if (args.once) {
      throw InputError("--http serves until stopped (expected it without --once)");
    }
    options.http = net::parse_host_port(args.http, "127.0.0.1", "--http");
    if (!monitor::is_loopback_host(options.http->host)) {
      // Beyond loopback the page shows who runs what where: it asks for the job's token.
      options.http_token = monitor::find_token(args.token_file, std::filesystem::is_directory(args.target) ? args.target : "");
    }
  }
  if (!args.textfile.empty() && !std::filesystem::is_directory(args.textfile)) {
    throw InputError(fmt::format("--textfile: '{}' is not a directory (expected node_exporter's textfile directory)", args.textfile));
  }
  options.textfile_dir = args.textfile;
  options.save_measured = args.save_measured;
  // The exporters publish every rank's figures and the dashboard draws every rank: they need the
  // whole snapshot.
  const bool exporting = options.prometheus || options.http || !options.textfile_dir.empty();
  auto source = monitor::open_snapshot_source(args.target, args.token_file, exporting ? 0 : options.max_ranks);
  stop_on_signals();
  if (options.in_place) {
    std::cout << "\x1b[2J";
  }
  return monitor::run_monitor_view(*source, options, std::cout, g_stop);
}

int run_serve(const ServeArgs& args) {
  monitor::EndpointOptions options;
  options.job_dir = args.job_dir;
  if (std::filesystem::exists(args.job_dir) && !std::filesystem::is_directory(args.job_dir)) {
    throw InputError(fmt::format("--job-dir: '{}' is not a directory (expected the job's directory, created "
                                 "when missing)",
                                 args.job_dir));
  }
  util::local_file_system().create_directories(args.job_dir);
  const auto listen = net::parse_host_port(args.listen, "127.0.0.1", "--listen");
  options.host = listen.host;
  options.port = listen.port;
  options.interval = args.interval;
  try {
    options.token = monitor::find_token(args.token_file, args.job_dir);
  } catch (const InputError&) {
    if (!args.token_file.empty()) {
      throw;
    }
    options.token = monitor::generate_token();
    monitor::write_token(args.job_dir, options.token);
    std::cerr << fmt::format("brix monitor: created a job token in {}\n", monitor::JobDirLayout(args.job_dir).token());
  }
  auto& monitor = options.monitor;
  monitor.job = args.job.empty() ? std::filesystem::path(args.job_dir).filename().string() : args.job;
  monitor.world_size = args.world_size;
  monitor.heartbeat_timeout = args.heartbeat_timeout;
  monitor.straggler.peer_ratio = args.straggler_ratio;
  monitor.straggler.steps = args.straggler_steps;
  monitor.rules = args.rules.empty() ? monitor::default_rules() : monitor::load_rules_file(args.rules);
  const auto job = monitor.job;
  const monitor::SystemClock clock;
  monitor::MonitorEndpoint endpoint(std::move(options), clock);
  std::cerr << fmt::format("brix monitor: endpoint for {} on {}:{} (token in {}); stop with Ctrl-C\n",
                           job, listen.host, endpoint.port(), monitor::JobDirLayout(args.job_dir).token());
  stop_on_signals();
  endpoint.run(g_stop);
  return 0;
}

int run_collect(const CollectArgs& args) {
  monitor::CollectorAgentOptions options;
  std::string endpoint = args.endpoint;
  if (endpoint.empty()) {
    if (args.job_dir.empty()) {
      throw InputError(fmt::format("collect needs --endpoint HOST:PORT or --job-dir DIR (with {})",
                                   monitor::JobDirLayout("DIR").endpoint()));
    }
    const auto path = monitor::JobDirLayout(args.job_dir).endpoint();
    std::string why;
    const auto text = util::read_regular_file(path, why, 4096);
    endpoint = text ? std::string(util::trim(*text)) : std::string();
    if (endpoint.empty()) {
      throw InputError(fmt::format("{}: cannot read the endpoint address (expected a running "
                                   "'brix monitor serve --job-dir {}')", path, args.job_dir));
    }
  }
  options.endpoint = net::parse_host_port(endpoint, "", "--endpoint");
  options.token = monitor::find_token(args.token_file, args.job_dir);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  options.node = args.node.empty() ? std::string(host) : args.node;
  options.socket_path = args.socket.empty() ? fmt::format("/tmp/brix-monitor-{}-{}.sock", ::getuid(), ::getpid())
                                            : args.socket;
  options.interval = args.interval;
  const monitor::SystemClock clock;
  const monitor::ProcProcessStats processes;
  const auto gpus = monitor::open_nvml();
  monitor::CollectorAgent agent(options, processes, *gpus, clock);
  std::cerr << fmt::format("brix monitor: collecting on {} for {}; ranks report to {}={}\n", options.node, endpoint,
                           monitor::k_socket_env, options.socket_path);
  if (const auto readout = gpus->read(); !readout.available) {
    std::cerr << fmt::format("brix monitor: {}; GPU figures are reported as unavailable\n", readout.reason);
  }
  stop_on_signals();
  agent.run(g_stop);
  return 0;
}

int run_rules(const std::string& path, const std::string& format_name) {
  const auto format = util::parse_format(format_name);
  util::print(monitor::RulesReport{path.empty() ? monitor::default_rules() : monitor::load_rules_file(path)}, format);
  return 0;
}

} // namespace

void add_monitor_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("monitor", "Watch a running job: ranks, stragglers, GPUs, rules, events; Prometheus");
  const monitor::JobDirLayout job_dir("JOB_DIR");
  const auto names = monitor::JobDirLayout::relative();
  command->footer(fmt::format("Targets: a job directory (reads {}) or the endpoint's HOST:PORT "
                              "(token from --token-file or BRIX_JOB_TOKEN). See 'man brix-monitor'.",
                              job_dir.snapshot()));
  auto view = std::make_shared<ViewArgs>();
  command->add_option("target", view->target, "JOB_DIR or HOST:PORT of the job's monitor endpoint");
  add_format_option(*command, view->format);
  command->add_flag("--once", view->once, "Print one snapshot and exit");
  command->add_option("--refresh", view->refresh, "Seconds between refreshes")->default_val(2.0);
  command->add_option("--count", view->count, "Refresh this many times, then exit (0: until Ctrl-C)")->default_val(0);
  command->add_flag("--quiet", view->quiet, "No terminal view (only --prometheus/--textfile)");
  command->add_option("--max-ranks", view->max_ranks, "List the N worst ranks (text and JSON; 0: all); the rest are summed up per node and stage")->default_val(64);
  command->add_option("--max-nodes", view->max_nodes, "List the N worst nodes, in the text view and --format json (0: all)")->default_val(32);
  command->add_option("--prometheus", view->prometheus, "Serve /metrics on [ADDR:]PORT (default address 127.0.0.1)");
  command->add_option("--http", view->http,
                      "Serve a live dashboard on [ADDR:]PORT (default address 127.0.0.1; elsewhere the job token is needed)");
  command->add_option("--textfile", view->textfile, "Write brix_<job>.prom into DIR at each refresh (node_exporter)");
  command->add_option("--save-measured", view->save_measured, "Write measured per-stage times for 'brix plan --measured'");
  command->add_option("--token-file", view->token_file, "File holding the job token (HOST:PORT targets)");

  auto serve = std::make_shared<ServeArgs>();
  auto* serve_command = command->add_subcommand("serve", "Host the job's monitor endpoint (node 0's agent does this under brix launch)");
  serve_command->add_option("--job-dir", serve->job_dir, fmt::format("Job directory ({}, {})", names.event_log(), names.snapshot()))->required();
  serve_command->add_option("--listen", serve->listen, "[ADDR:]PORT to listen on (port 0: any free port)")->default_str("127.0.0.1:0");
  serve_command->add_option("--rules", serve->rules, "Rules file (default: the bundled configs/monitor/rules.yaml)");
  serve_command->add_option("--job", serve->job, "Job name (default: the job directory's name)");
  serve_command->add_option("--world-size", serve->world_size, "Ranks expected (default: those seen)");
  serve_command->add_option("--heartbeat-timeout", serve->heartbeat_timeout, "Seconds without a report before a rank is stale")->default_val(30);
  serve_command->add_option("--interval", serve->interval, "Seconds between snapshots")->default_val(1);
  serve_command->add_option("--straggler-ratio", serve->straggler_ratio, "Flag ranks this much slower than their peers' median")->default_val(1.15);
  serve_command->add_option("--straggler-steps", serve->straggler_steps, "Consecutive slow steps before flagging")->default_val(5);
  serve_command->add_option("--token-file", serve->token_file, fmt::format("File holding the job token (default: BRIX_JOB_TOKEN or {}, created if absent)", job_dir.token()));

  auto collect = std::make_shared<CollectArgs>();
  auto* collect_command = command->add_subcommand("collect", "Run a node collector (each node's agent does this under brix launch)");
  collect_command->add_option("--endpoint", collect->endpoint, "HOST:PORT of the job's monitor endpoint");
  collect_command->add_option("--job-dir", collect->job_dir, "Job directory (endpoint address and token from it)");
  collect_command->add_option("--node", collect->node, "This node's name (default: the hostname)");
  collect_command->add_option("--socket", collect->socket, "Unix socket the ranks report to (BRIX_MONITOR_SOCKET)");
  collect_command->add_option("--interval", collect->interval, "Seconds between samples")->default_val(1);
  collect_command->add_option("--token-file", collect->token_file, "File holding the job token");

  auto rules_file = std::make_shared<std::string>();
  auto rules_format = std::make_shared<std::string>();
  auto* rules_command = command->add_subcommand("rules", "Check a rules file and print its rules (default: the bundled ones)");
  rules_command->add_option("file", *rules_file, "Rules YAML file");
  add_format_option(*rules_command, *rules_format);

  auto* grafana_command = command->add_subcommand(
      "grafana", "Print a Grafana dashboard (JSON model) for the metrics of --prometheus: brix monitor grafana > brix-dashboard.json");
  grafana_command->callback([&context] {
    std::cout << monitor::grafana_dashboard().dump(2) << '\n';
    context.exit_code = 0;
  });

  serve_command->callback([&context, serve] { context.exit_code = run_serve(*serve); });
  collect_command->callback([&context, collect] { context.exit_code = run_collect(*collect); });
  rules_command->callback([&context, rules_file, rules_format] { context.exit_code = run_rules(*rules_file, *rules_format); });
  command->callback([&context, command, view] {
    if (!command->get_subcommands().empty()) {
      return;
    }
    if (view->target.empty()) {
      throw InputError("monitor: which job? (expected JOB_DIR or HOST:PORT, or a subcommand: serve, collect, rules, grafana)");
    }
    context.exit_code = run_view(*view);
  });
}

} // namespace brix::cli
