// Monitoring at scale: N simulated nodes x R ranks report to one job endpoint at 1 Hz, as
// `brix launch`'s collectors do: each node sends one NodeSample line per second (its ranks' state,
// one step record per rank, 8 GPUs' figures), the nodes spread over the second; rank 13 is a
// straggler (20% slower). The endpoint is `brix monitor serve`, a process of its own, so that its
// CPU time and memory are its own. Beside it, in the same run and with the same traffic, a plain
// line sink (this program re-run as --sink: epoll, reads and drops every line): the cost of
// receiving the bytes alone. After a warm-up, prints each one's CPU share (CPU seconds over wall
// seconds; 1.00 = one core) and resident memory, then what a reader gets at that size: the
// snapshot file, and `brix monitor JOB_DIR --once` as text and as JSON (time, lines, bytes).
// Usage: bench-monitor-scale [--nodes 2048] [--ranks-per-node 8] [--seconds 20] [--warmup 5]
#include "child_process.hpp"

#include <brix/monitor/node_sample.hpp>
#include <brix/monitor/wire.hpp>
#include <brix/net/poller.hpp>
#include <brix/net/socket.hpp>
#include <brix/net/stream_socket.hpp>
#include <brix/util/run_command.hpp>
#include <brix/util/strings.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

using namespace brix;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

namespace {

constexpr const char* k_token = "bench-monitor-token";

struct Settings {
  int nodes = 2048;
  int ranks_per_node = 8;
  int seconds = 20;
  int warmup = 5;
};

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// The sink: accepts, answers the hello line with OK, drops every later line. Prints its port.
int sink_main() {
  auto listener = net::listen_tcp("127.0.0.1", 0, 4096);
  net::raise_open_file_limit();
  std::cout << net::bound_port(listener.get()) << std::endl;
  net::Poller poller;
  poller.add(listener.get(), 0);
  struct Peer {
    net::Fd fd;
    std::string partial;
    bool greeted = false;
  };
  std::unordered_map<std::uint64_t, Peer> peers;
  std::uint64_t next = 1;
  std::vector<char> buffer(1 << 16);
  while (true) {
    for (const auto& ready : poller.wait(-1)) {
      if (ready.tag == 0) {
        while (true) {
          const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) {
            break;
          }
          poller.add(fd, next);
          peers.emplace(next++, Peer{net::Fd(fd), {}, false});
        }
        continue;
      }
      auto& peer = peers.at(ready.tag);
      const auto got = ::recv(peer.fd.get(), buffer.data(), buffer.size(), 0);
      if (got <= 0) {
        peers.erase(ready.tag);
        continue;
      }
      if (!peer.greeted) {
        peer.greeted = true;
        [[maybe_unused]] const auto sent = ::send(peer.fd.get(), "OK\n", 3, MSG_NOSIGNAL);
      }
      // Lines are only split, as a server must, then dropped.
      std::string_view data(buffer.data(), static_cast<std::size_t>(got));
      std::size_t newline = 0;
      while ((newline = data.find('\n')) != std::string_view::npos) {
        peer.partial.clear();
        data.remove_prefix(newline + 1);
      }
      peer.partial.append(data);
    }
  }
}

/// One node's sample for second `tick`.
std::string sample_line(const Settings& settings, int node, std::int64_t tick, double now) {
  monitor::NodeSample sample;
  sample.node = fmt::format("node{:04d}", node);
  sample.time = now;
  sample.gpus.available = true;
  for (int local = 0; local < settings.ranks_per_node; ++local) {
    const int rank = node * settings.ranks_per_node + local;
    // Deterministic jitter of +-2%; rank 13 is 20% slower than its peers.
    const double noise = 1.0 + 0.02 * std::sin(rank * 12.9898 + static_cast<double>(tick) * 78.233);
    const double compute = 0.8 * noise * (rank == 13 ? 1.2 : 1.0);
    monitor::RankSample state;
    state.rank = rank;
    state.pid = 10000 + rank;
    state.stage = local / 2; // 4 pipeline stages per node's 8 ranks: stage = local rank / 2
    state.step = tick;
    state.step_seconds = 1.0;
    state.compute_seconds = compute;
    state.last_report = now;
    state.cpu_percent = 98.0;
    state.rss_bytes = std::uint64_t{6} << 30;
    state.cpu_seconds = static_cast<double>(tick);
    state.values = {{"loss", 2.5 - 0.001 * static_cast<double>(tick)}, {"grad_norm", 1.1}};
    sample.ranks.push_back(state);
    sample.steps.push_back({rank, tick, 1.0, compute, now});
    monitor::GpuFigures gpu;
    gpu.index = local;
    gpu.uuid = fmt::format("GPU-{:08x}-{:04x}", node, local);
    gpu.name = "NVIDIA H100 80GB HBM3";
    gpu.utilization_percent = 97;
    gpu.memory_used_mib = 61000;
    gpu.memory_free_mib = 20000;
    gpu.temperature_c = 64;
    gpu.power_w = 650;
    sample.gpus.gpus.push_back(gpu);
  }
  return monitor::to_json(sample).dump();
}

struct Load {
  double cpu_share = 0;
  double resident_mib = 0;
  double peak_mib = 0;
  std::int64_t samples = 0;
  double late_seconds = 0; ///< how far the sender fell behind its schedule, at most
};

/// Connects every node to host:port and sends one sample per node per second; measures `server`
/// between the warm-up and the end.
Load drive(const Settings& settings, const net::HostPort& endpoint, const bench::ChildProcess& server) {
  std::vector<net::LineStream> streams;
  streams.reserve(static_cast<std::size_t>(settings.nodes));
  for (int node = 0; node < settings.nodes; ++node) {
    streams.push_back(monitor::connect_monitor(endpoint, {monitor::PeerRole::node, fmt::format("node{:04d}", node), k_token}, 30000));
  }
  Load load;
  const auto start = Steady::now();
  double cpu_at_warmup = 0;
  Steady::time_point warm;
  for (int second = 0; second < settings.warmup + settings.seconds; ++second) {
    if (second == settings.warmup) {
      warm = Steady::now();
      cpu_at_warmup = server.cpu_seconds();
    }
    for (int node = 0; node < settings.nodes; ++node) {
      const auto due = start + std::chrono::duration_cast<Steady::duration>(
                                   std::chrono::duration<double>(second + static_cast<double>(node) / settings.nodes));
      std::this_thread::sleep_until(due);
      load.late_seconds = std::max(load.late_seconds, std::chrono::duration<double>(Steady::now() - due).count());
      if (!streams[static_cast<std::size_t>(node)].send_line(sample_line(settings, node, second, unix_now()), 10000)) {
        throw std::runtime_error(fmt::format("node {}: the server closed the connection", node));
      }
      load.samples += second >= settings.warmup ? 1 : 0;
    }
  }
  const auto end = start + std::chrono::seconds(settings.warmup + settings.seconds);
  std::this_thread::sleep_until(end);
  load.cpu_share = (server.cpu_seconds() - cpu_at_warmup) / std::chrono::duration<double>(Steady::now() - warm).count();
  load.resident_mib = server.resident_mib();
  load.peak_mib = server.peak_resident_mib();
  return load;
}

void print_load(const std::string& name, const Load& load) {
  std::cout << fmt::format("{:<22} {:>9.3f} {:>9.1f} {:>9.1f} {:>9} {:>10.3f}\n", name, load.cpu_share, load.resident_mib,
                           load.peak_mib, load.samples, load.late_seconds)
            << std::flush;
}

} // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--sink") {
    return sink_main();
  }
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (arg == "--nodes") {
      settings.nodes = std::max(1, value());
    } else if (arg == "--ranks-per-node") {
      settings.ranks_per_node = std::max(1, value());
    } else if (arg == "--seconds") {
      settings.seconds = std::max(1, value());
    } else if (arg == "--warmup") {
      settings.warmup = std::max(0, value());
    } else {
      std::cerr << "usage: bench-monitor-scale [--nodes 2048] [--ranks-per-node 8] [--seconds 20] [--warmup 5]\n";
      return 2;
    }
  }
  net::raise_open_file_limit();
  const auto self = fs::canonical("/proc/self/exe").string();
  const auto brix = (fs::path(self).parent_path().parent_path() / "brix").string();
  const auto dir = fs::temp_directory_path() / fmt::format("brix-bench-monitor-scale-{}", ::getpid());
  fs::create_directories(dir);
  ::setenv("BRIX_JOB_TOKEN", k_token, 1);
  const int ranks = settings.nodes * settings.ranks_per_node;
  std::cout << fmt::format("# {} nodes x {} ranks ({} ranks): one sample per node per second, {} s measured after "
                           "{} s of warm-up\n",
                           settings.nodes, settings.ranks_per_node, ranks, settings.seconds, settings.warmup);
  std::cout << fmt::format("{:<22} {:>9} {:>9} {:>9} {:>9} {:>10}\n", "server", "cpu share", "rss MiB", "peak MiB",
                           "samples", "sender lag");
  int status = 0;
  try {
    Load sink_load;
    {
      bench::ChildProcess sink({self, "--sink"});
      const auto port = util::parse_int(sink.read_line(std::chrono::seconds(30)).value_or("0")).value_or(0);
      sink_load = drive(settings, {"127.0.0.1", static_cast<int>(port)}, sink);
      print_load("plain line sink", sink_load);
    }
    const auto job_dir = (dir / "job").string();
    bench::ChildProcess endpoint({brix, "monitor", "serve", "--job-dir", job_dir, "--world-size", std::to_string(ranks)});
    const auto endpoint_file = dir / "job" / "monitor" / "endpoint";
    for (int i = 0; i < 3000 && !fs::exists(endpoint_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::string address;
    std::ifstream(endpoint_file) >> address;
    const auto endpoint_load = drive(settings, net::parse_host_port(address, "", "endpoint"), endpoint);
    print_load("brix monitor endpoint", endpoint_load);
    std::cout << fmt::format("endpoint / sink CPU: {:.1f}x; endpoint under one core: {}\n",
                             endpoint_load.cpu_share / std::max(1e-3, sink_load.cpu_share),
                             endpoint_load.cpu_share < 1.0 ? "yes" : "NO");
    const auto snapshot = dir / "job" / "monitor" / "snapshot.json";
    std::cout << fmt::format("snapshot.json: {:.2f} MiB\n", static_cast<double>(fs::file_size(snapshot)) / (1 << 20));
    for (const auto* format : {"text", "json"}) {
      const auto start = Steady::now();
      const auto view = util::run_command({brix, "monitor", job_dir, "--once", "--format", format}, std::chrono::seconds(120));
      const auto lines = std::count(view.output.begin(), view.output.end(), '\n');
      std::cout << fmt::format("brix monitor --once --format {}: exit {}, {:.2f} s, {} lines, {:.1f} KiB\n", format,
                               view.exit_code, std::chrono::duration<double>(Steady::now() - start).count(), lines,
                               static_cast<double>(view.output.size()) / 1024);
      status |= view.exit_code == 0 ? 0 : 1;
    }
    endpoint.signal(SIGTERM);
    (void)endpoint.wait(std::chrono::seconds(30));
  } catch (const std::exception& e) {
    std::cerr << "bench-monitor-scale: " << e.what() << '\n';
    status = 1;
  }
  fs::remove_all(dir);
  return status;
}
