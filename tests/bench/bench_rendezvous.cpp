// Rendezvous at scale, brix's store beside torch's TCPStore in the same run. A agents join one
// rendezvous hosted by node 0, a process of its own (this program re-run as `--node0`, or
// tests/bench/torch_store_join.py for torch), so that node 0's CPU time and memory are its own;
// the other A - 1 agents are threads of one process (this one, or Python threads for torch),
// each with its own TCP connection on 127.0.0.1. Both run the same join: connect, claim the
// agent's key, wait for node 0's world (a line per node), read it; node 0 waits for every key,
// reads them and publishes the world. brix runs its own join_rendezvous.
// Scenarios: "up" (the store is up; times from the start barrier, connecting included) and, for
// brix, "late" (the store comes up --late-ms after the agents start: every agent retries with
// jittered backoff; times from the store's start). Prints join-time percentiles, node 0's CPU
// seconds and peak resident memory (and its growth during the join), the connection attempts,
// and torch / brix for the slowest join. A store that fails or passes --torch-cap is printed
// as a failure, not as a ratio.
// Usage: bench-rendezvous [--agents 1024,4096] [--late-ms 1000] [--torch-cap 180] [--no-torch]
#include "child_process.hpp"

#include <brix/build_config.hpp>
#include <brix/launch/rendezvous.hpp>
#include <brix/net/store_server.hpp>
#include <brix/util/strings.hpp>

#include <atomic>
#include <barrier>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unistd.h>

using namespace brix;
namespace fs = std::filesystem;

namespace {

constexpr const char* k_token = "bench-token";

std::int64_t unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void sleep_until_ns(std::int64_t when) {
  const auto left = when - unix_ns();
  if (left > 0) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(left));
  }
}

launch::RendezvousOptions rendezvous_options(int agents) {
  launch::RendezvousOptions options;
  options.nnodes = agents;
  options.timeout = std::chrono::seconds(300);
  options.run_id = "bench";
  options.master_addr = "127.0.0.1";
  options.master_port = 29500;
  return options;
}

net::StoreClientOptions client_options(const std::string& name) {
  net::StoreClientOptions options;
  options.token = k_token;
  options.name = name;
  options.connect_timeout = std::chrono::seconds(120);
  return options;
}

/// Node 0: hosts the store (from `start_at_ns` when given) and joins as node 0, as the agent does;
/// prints "started" at once (its memory before the store is the baseline of the growth), "port P T"
/// when listening (T: unix ns) and "world" once published; exits when the bench sets bench/done.
int node0_main(int agents, int port, std::int64_t start_at_ns) {
  std::cout << "started" << std::endl;
  sleep_until_ns(start_at_ns);
  net::StoreServer server({"127.0.0.1", port, k_token, {}, 4096});
  server.serve();
  std::cout << fmt::format("port {} {}", server.port(), unix_ns()) << std::endl;
  net::TcpConnector connector;
  net::StoreClient client(connector, {"127.0.0.1", server.port()}, client_options("node 0"));
  client.connect();
  const auto world = launch::join_rendezvous(client, {0, "n0", "127.0.0.1", 8, agents}, 0, rendezvous_options(agents));
  std::cout << fmt::format("world {}", world.nodes.size()) << std::endl;
  return client.wait({"bench/done"}, std::chrono::minutes(10)) ? 0 : 1;
}

struct Run {
  bool ok = false;
  std::string failure;
  std::vector<double> join_seconds; ///< per agent (node 0 not counted)
  double node0_cpu_seconds = 0;
  double node0_peak_mib = 0;
  double node0_start_mib = 0;
  std::int64_t attempts = 0; ///< connection attempts of all agents
};

/// Picks a free port for a store that starts later (the agents must know where to retry).
int free_port() {
  const auto socket = net::listen_tcp("127.0.0.1", 0, 1);
  return net::bound_port(socket.get());
}

Run run_brix(const std::string& self, int agents, std::optional<int> late_ms) {
  Run run;
  const int threads_count = agents - 1;
  std::barrier start(threads_count + 1);
  std::atomic<int> port{late_ms ? free_port() : 0};
  std::vector<std::int64_t> done(static_cast<std::size_t>(threads_count), 0);
  std::vector<int> attempts(static_cast<std::size_t>(threads_count), 0);
  std::atomic<int> failures{0};
  std::string first_failure;
  std::mutex failure_mutex;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(threads_count));
  for (int node = 1; node < agents; ++node) {
    threads.emplace_back([&, node] {
      start.arrive_and_wait();
      try {
        net::TcpConnector connector;
        net::StoreClient client(connector, {"127.0.0.1", port.load()}, client_options(fmt::format("n{}", node)));
        client.connect();
        attempts[node - 1] = client.attempts();
        const auto world = launch::join_rendezvous(client, {node, fmt::format("n{}", node), "127.0.0.1", 8, agents},
                                                   0, rendezvous_options(agents));
        if (static_cast<int>(world.nodes.size()) == agents) {
          done[node - 1] = unix_ns();
        }
      } catch (const std::exception& e) {
        if (failures++ == 0) {
          const std::lock_guard lock(failure_mutex);
          first_failure = fmt::format("agent {}: {}", node, e.what());
        }
      }
    });
  }
  // Every thread exists before the clock starts; the late store starts late_ms after that.
  const auto t0 = unix_ns() + 50'000'000;
  const auto store_start = late_ms ? t0 + std::int64_t{*late_ms} * 1'000'000 : 0;
  bench::ChildProcess node0({self, "--node0", std::to_string(agents), std::to_string(port.load()),
                             std::to_string(store_start)});
  std::int64_t listening_at = 0;
  // Measured once node 0 runs its own program: before that, it is a copy of this process.
  if (node0.read_line(std::chrono::seconds(30)) != "started") {
    run.failure = "node 0 did not start";
    port = 1; // the agents fail at once
  } else if (!late_ms) {
    const auto line = node0.read_line(std::chrono::seconds(30));
    const auto fields = line ? util::split(*line, ' ') : std::vector<std::string>{};
    if (fields.size() != 3) {
      run.failure = "node 0 did not start";
      port = 1; // the agents fail at once
    } else {
      port = static_cast<int>(util::parse_int(fields[1]).value_or(1));
      listening_at = util::parse_int(fields[2]).value_or(0);
    }
  }
  run.node0_start_mib = node0.resident_mib();
  const double cpu_before = node0.cpu_seconds();
  sleep_until_ns(t0);
  start.arrive_and_wait();
  for (auto& thread : threads) {
    thread.join();
  }
  if (late_ms) {
    const auto line = node0.read_line(std::chrono::seconds(30));
    const auto fields = line ? util::split(*line, ' ') : std::vector<std::string>{};
    listening_at = fields.size() == 3 ? util::parse_int(fields[2]).value_or(0) : 0;
  }
  run.node0_cpu_seconds = node0.cpu_seconds() - cpu_before;
  run.node0_peak_mib = node0.peak_resident_mib();
  const auto from = late_ms ? listening_at : t0;
  for (std::size_t i = 0; i < done.size(); ++i) {
    run.attempts += attempts[i];
    if (done[i] > 0) {
      run.join_seconds.push_back(static_cast<double>(done[i] - from) / 1e9);
    }
  }
  if (failures > 0 && run.failure.empty()) {
    run.failure = fmt::format("{} agent(s) failed; first: {}", failures.load(), first_failure);
  }
  try {
    net::TcpConnector connector;
    net::StoreClient client(connector, {"127.0.0.1", port.load()}, client_options("bench"));
    client.connect();
    client.set("bench/done", "1");
  } catch (const std::exception&) {
  }
  (void)node0.wait(std::chrono::seconds(30));
  run.ok = run.failure.empty() && static_cast<int>(run.join_seconds.size()) == threads_count;
  return run;
}

Run run_torch(const std::string& python, const std::string& script, int agents, int cap_s) {
  Run run;
  bench::ChildProcess node0({python, script, "serve", std::to_string(agents), std::to_string(cap_s)});
  const auto line = node0.read_line(std::chrono::seconds(120));
  const auto fields = line ? util::split(*line, ' ') : std::vector<std::string>{};
  if (fields.size() != 3) {
    run.failure = "torch's store did not start";
    return run;
  }
  run.node0_start_mib = node0.resident_mib();
  const double cpu_before = node0.cpu_seconds();
  bench::ChildProcess agents_process({python, script, "agents", std::to_string(agents), fields[1], std::to_string(cap_s)});
  const auto report = agents_process.read_line(std::chrono::seconds(cap_s + 120));
  run.node0_cpu_seconds = node0.cpu_seconds() - cpu_before;
  run.node0_peak_mib = node0.peak_resident_mib();
  if (!report) {
    run.failure = fmt::format("torch's agents did not finish within {} s", cap_s + 120);
    return run;
  }
  try {
    const auto json = nlohmann::json::parse(*report);
    const auto t0 = json.at("t0").get<std::int64_t>();
    for (const auto& done : json.at("done")) {
      run.join_seconds.push_back(static_cast<double>(done.get<std::int64_t>() - t0) / 1e9);
    }
    const auto errors = json.at("errors").get<int>();
    if (errors > 0 || static_cast<int>(run.join_seconds.size()) != agents - 1) {
      run.failure = fmt::format("{} of {} agents joined; first error: {}", run.join_seconds.size(), agents - 1,
                                json.value("first_error", std::string("-")));
    }
  } catch (const std::exception& e) {
    run.failure = fmt::format("unreadable report from torch's agents: {}", e.what());
  }
  run.ok = run.failure.empty();
  return run;
}

void print_run(int agents, const std::string& store, const std::string& scenario, const Run& run) {
  if (!run.ok) {
    std::cout << fmt::format("{:>7}  {:<6} {:<6} FAILED: {}\n", agents, store, scenario, run.failure);
    return;
  }
  std::cout << fmt::format("{:>7}  {:<6} {:<6} {:>7.3f} {:>7.3f} {:>7.3f} {:>7.3f} {:>9.2f} {:>8.1f} {:>8.1f} {:>9}\n",
                           agents, store, scenario, bench::quantile(run.join_seconds, 0.5),
                           bench::quantile(run.join_seconds, 0.9), bench::quantile(run.join_seconds, 0.99),
                           bench::quantile(run.join_seconds, 1.0), run.node0_cpu_seconds, run.node0_peak_mib,
                           run.node0_peak_mib - run.node0_start_mib, run.attempts > 0 ? std::to_string(run.attempts) : "-")
            << std::flush;
}

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> values;
  for (const auto& item : util::split(text, ',')) {
    values.push_back(static_cast<int>(util::parse_int(item).value_or(0)));
  }
  return values;
}

} // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--node0") {
    return node0_main(std::atoi(argv[2]), std::atoi(argv[3]), std::atoll(argv[4]));
  }
  net::raise_open_file_limit();
  std::vector<int> sizes{1024, 4096};
  int late_ms = 1000;
  int torch_cap = 180;
  bool torch = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--agents") {
      sizes = parse_list(value());
    } else if (arg == "--late-ms") {
      late_ms = std::atoi(value().c_str());
    } else if (arg == "--torch-cap") {
      torch_cap = std::max(10, std::atoi(value().c_str()));
    } else if (arg == "--no-torch") {
      torch = false;
    } else {
      std::cerr << "usage: bench-rendezvous [--agents 1024,4096] [--late-ms 1000] [--torch-cap 180] [--no-torch]\n";
      return 2;
    }
  }
  const auto self = fs::canonical("/proc/self/exe").string();
  const std::string python = "/usr/bin/python3";
  const std::string script = std::string(BRIX_SOURCE_DIR) + "/tests/bench/torch_store_join.py";
  std::string torch_version;
  if (torch) {
    bench::ChildProcess probe({python, script, "version"});
    torch_version = probe.read_line(std::chrono::seconds(120)).value_or("");
    if (probe.wait(std::chrono::seconds(10)).value_or(1) != 0 || torch_version.empty()) {
      std::cout << "# torch baseline skipped: " << python << " cannot import torch.distributed\n";
      torch = false;
    } else {
      std::cout << "# torch " << torch_version << "\n";
    }
  }
  std::cout << fmt::format("# {} agents' join, node 0 in its own process, agents as threads on 127.0.0.1; seconds\n"
                           "# up: from the start barrier (connect included); late: store up {} ms after the agents "
                           "start, times from the store's start\n",
                           "A", late_ms);
  std::cout << fmt::format("{:>7}  {:<6} {:<6} {:>7} {:>7} {:>7} {:>7} {:>9} {:>8} {:>8} {:>9}\n", "agents", "store",
                           "start", "p50", "p90", "p99", "max", "node0 cpu", "peak MiB", "growth", "attempts");
  int status = 0;
  for (const int agents : sizes) {
    const auto brix_up = run_brix(self, agents, std::nullopt);
    print_run(agents, "brix", "up", brix_up);
    if (late_ms > 0) {
      print_run(agents, "brix", "late", run_brix(self, agents, late_ms));
    }
    if (torch) {
      const auto torch_up = run_torch(python, script, agents, torch_cap);
      print_run(agents, "torch", "up", torch_up);
      if (brix_up.ok && torch_up.ok) {
        std::cout << fmt::format("{:>7}  torch / brix, slowest join: {:.1f}x; node 0 cpu: {:.1f}x; node 0 growth: {:.1f}x\n",
                                 agents, bench::quantile(torch_up.join_seconds, 1.0) / bench::quantile(brix_up.join_seconds, 1.0),
                                 torch_up.node0_cpu_seconds / std::max(1e-3, brix_up.node0_cpu_seconds),
                                 (torch_up.node0_peak_mib - torch_up.node0_start_mib) /
                                     std::max(0.1, brix_up.node0_peak_mib - brix_up.node0_start_mib));
      } else if (brix_up.ok) {
        std::cout << fmt::format("{:>7}  torch / brix: no ratio, torch's run failed (a failure is not a measurement)\n", agents);
      }
    }
    status |= brix_up.ok ? 0 : 1;
  }
  return status;
}
