// Launch speed of `brix launch` beside torchrun, measured in the same run:
//  1. time from starting the launcher to every one of N trivial workers running (N = 8, 32,
//     128 on this node), brix launch vs torchrun --standalone (Debian's, patched to start:
//     tests/bench/torchrun_patched.py);
//  2. time for A agents to join one rendezvous (A = 128, 1024), brix's store and protocol vs
//     torchrun's c10d rendezvous (tests/bench/torch_rendezvous.py), agents as threads.
// Prints medians and the ratio torchrun / brix. Usage: bench-launch [--workers 8,32,128]
// [--agents 128,1024] [--repeat 3] [--torch-repeat 1] [--torch-cap 300] [--no-torch]
#include <brix/build_config.hpp>
#include <brix/launch/rendezvous.hpp>
#include <brix/net/store_server.hpp>
#include <brix/util/run_command.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace brix;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The trivial worker: records when it started running.
int stamp(const std::string& dir) {
  const char* rank = std::getenv("RANK");
  std::ofstream(fmt::format("{}/{}", dir, rank != nullptr ? rank : "x")) << now_ns() << '\n';
  return 0;
}

struct Settings {
  std::vector<int> workers{8, 32, 128};
  std::vector<int> agents{128, 1024};
  int repeat = 3;
  int torch_repeat = 1;
  int torch_cap_s = 300;
  bool torch = true;
  std::string self;
  std::string brix;
  std::string python = "/usr/bin/python3";
  std::string source = BRIX_SOURCE_DIR;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

/// Seconds from starting `argv` to the last of `workers` stamps; nullopt when it failed.
std::optional<double> launch_to_running(std::vector<std::string> argv, const fs::path& stamps,
                                        int workers, int cap_s) {
  fs::remove_all(stamps);
  fs::create_directories(stamps);
  const auto start = now_ns();
  const auto result = util::run_command(argv, std::chrono::seconds(cap_s));
  if (result.exit_code != 0) {
    std::cerr << fmt::format("bench-launch: '{}' failed (exit {})\n", argv[0], result.exit_code);
    return std::nullopt;
  }
  std::int64_t last = 0;
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(stamps)) {
    std::ifstream in(entry.path());
    std::int64_t stamp_ns = 0;
    in >> stamp_ns;
    last = std::max(last, stamp_ns);
    ++seen;
  }
  if (seen != workers) {
    std::cerr << fmt::format("bench-launch: {} of {} workers ran\n", seen, workers);
    return std::nullopt;
  }
  return static_cast<double>(last - start) / 1e9;
}

/// Seconds for `agents` threads to join one brix rendezvous over real TCP.
double brix_rendezvous(int agents) {
  net::StoreServer server({"127.0.0.1", 0, "bench-token", {}});
  server.serve();
  net::TcpConnector connector;
  std::barrier ready(agents + 1);
  std::vector<std::int64_t> done(static_cast<std::size_t>(agents));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int node = 0; node < agents; ++node) {
    threads.emplace_back([&, node] {
      bool arrived = false;
      try {
        net::StoreClientOptions options;
        options.token = "bench-token";
        net::StoreClient client(connector, {"127.0.0.1", server.port()}, options);
        client.connect();
        launch::RendezvousOptions rendezvous;
        rendezvous.nnodes = agents;
        rendezvous.timeout = std::chrono::seconds(300);
        rendezvous.run_id = "bench";
        rendezvous.master_addr = "127.0.0.1";
        rendezvous.master_port = 29500;
        ready.arrive_and_wait();
        arrived = true;
        const auto world = launch::join_rendezvous(
            client, {node, fmt::format("n{}", node), "127.0.0.1", 8, agents}, 0, rendezvous);
        done[node] = world.world_size() == 8 * agents ? now_ns() : 0;
      } catch (const std::exception& e) {
        ++failures;
        std::cerr << "bench-launch: agent " << node << ": " << e.what() << '\n';
        if (!arrived) {
          ready.arrive_and_wait();
        }
      }
    });
  }
  ready.arrive_and_wait();
  const auto start = now_ns();
  for (auto& thread : threads) {
    thread.join();
  }
  if (failures > 0 || std::count(done.begin(), done.end(), 0) > 0) {
    return -1;
  }
  return static_cast<double>(*std::max_element(done.begin(), done.end()) - start) / 1e9;
}

std::optional<double> torch_rendezvous(const Settings& settings, int agents) {
  const auto result = util::run_command(
      {settings.python, settings.source + "/tests/bench/torch_rendezvous.py",
       std::to_string(agents), std::to_string(settings.torch_cap_s)},
      std::chrono::seconds(settings.torch_cap_s + 120));
  if (result.exit_code != 0) {
    return std::nullopt;
  }
  return util::parse_double(util::trim(result.output));
}

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> values;
  for (const auto& item : util::split(text, ',')) {
    values.push_back(static_cast<int>(util::parse_int(item).value_or(0)));
  }
  return values;
}

std::string ratio_text(std::optional<double> torch, double brix, int cap_s) {
  if (!torch) {
    return fmt::format("> {:.0f}x (torchrun failed or passed the {} s cap)", cap_s / brix, cap_s);
  }
  return fmt::format("{:.1f}x", *torch / brix);
}

void print_row(int count, double brix, std::optional<double> torch, const Settings& settings) {
  std::cout << fmt::format("{:>8} {:>12.4f} {:>12} {:>10}\n", count, brix,
                           torch ? fmt::format("{:.4f}", *torch) : "-",
                           settings.torch ? ratio_text(torch, brix, settings.torch_cap_s) : "-")
            << std::flush;
}

} // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--stamp") {
    return stamp(argv[2]);
  }
  Settings settings;
  settings.self = fs::canonical("/proc/self/exe").string();
  settings.brix = (fs::path(settings.self).parent_path().parent_path() / "brix").string();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--workers") {
      settings.workers = parse_list(value());
    } else if (arg == "--agents") {
      settings.agents = parse_list(value());
    } else if (arg == "--repeat") {
      settings.repeat = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--torch-repeat") {
      settings.torch_repeat = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--torch-cap") {
      settings.torch_cap_s = std::max(10, std::atoi(value().c_str()));
    } else if (arg == "--no-torch") {
      settings.torch = false;
    } else {
      std::cerr << "usage: bench-launch [--workers 8,32,128] [--agents 128,1024] [--repeat N] "
                   "[--torch-repeat N] [--torch-cap S] [--no-torch]\n";
      return 2;
    }
  }
  if (settings.torch && util::run_command({settings.python, "-c", "import torch.distributed"},
                                          std::chrono::seconds(120))
                                .exit_code != 0) {
    std::cout << "# torchrun baseline skipped: " << settings.python << " cannot import torch\n";
    settings.torch = false;
  }
  const auto scratch = fs::temp_directory_path() / fmt::format("bench-launch-{}", ::getpid());
  const auto stamps = scratch / "stamps";

  std::cout << "# launch to all workers running, one node (median seconds)\n";
  std::cout << fmt::format("{:>8} {:>12} {:>12} {:>10}\n", "workers", "brix", "torchrun",
                           "ratio");
  for (const int workers : settings.workers) {
    std::vector<double> brix_times;
    for (int r = 0; r < settings.repeat; ++r) {
      if (const auto t = launch_to_running(
              {settings.brix, "launch", "--nproc-per-node", std::to_string(workers), "--quiet",
               "--log-dir", (scratch / "brix-logs").string(), "--", settings.self, "--stamp",
               stamps.string()},
              stamps, workers, 120)) {
        brix_times.push_back(*t);
      }
    }
    if (brix_times.empty()) {
      return 1;
    }
    const double brix_median = median(brix_times);
    std::optional<double> torch_median;
    if (settings.torch) {
      std::vector<double> torch_times;
      for (int r = 0; r < settings.torch_repeat; ++r) {
        if (const auto t = launch_to_running(
                {settings.python, settings.source + "/tests/bench/torchrun_patched.py",
                 "--standalone", "--nproc_per_node", std::to_string(workers), "--no_python",
                 "--log_dir", (scratch / "torch-logs").string(), settings.self, "--stamp",
                 stamps.string()},
                stamps, workers, settings.torch_cap_s)) {
          torch_times.push_back(*t);
        }
      }
      if (!torch_times.empty()) {
        torch_median = median(torch_times);
      }
    }
    print_row(workers, brix_median, torch_median, settings);
  }

  std::cout << "\n# agents joining one rendezvous, threads over TCP on 127.0.0.1 (seconds)\n";
  std::cout << fmt::format("{:>8} {:>12} {:>12} {:>10}\n", "agents", "brix", "torchrun", "ratio");
  for (const int agents : settings.agents) {
    std::vector<double> brix_times;
    for (int r = 0; r < settings.repeat; ++r) {
      const double t = brix_rendezvous(agents);
      if (t < 0) {
        return 1;
      }
      brix_times.push_back(t);
    }
    const double brix_median = median(brix_times);
    std::optional<double> torch_time;
    if (settings.torch) {
      torch_time = torch_rendezvous(settings, agents);
    }
    print_row(agents, brix_median, torch_time, settings);
  }
  fs::remove_all(scratch);
  return 0;
}
