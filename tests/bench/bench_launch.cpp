// Launch speed of `brix launch` beside torchrun, measured in the same run: N trivial workers
// (N = 8, 32, 128 on this node; each writes when it started and exits), brix launch vs
// torchrun --standalone (Debian's, patched to start: tests/bench/torchrun_patched.py) at its
// fastest monitor interval (--monitor_interval 0.01) and at its default (5 s). Two times per
// launcher: from starting it to every worker running, and to the launcher's exit (the job's
// completion: the floor of every job, and of every restart). Prints medians and the ratios
// torchrun / brix. Agents joining a rendezvous at scale: bench-rendezvous.
// Usage: bench-launch [--workers 8,32,128] [--repeat 5] [--torch-repeat 1] [--torch-cap 120]
// [--no-torch]
#include <brix/build_config.hpp>
#include <brix/util/run_command.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
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
  int repeat = 5;
  int torch_repeat = 1;
  int torch_cap_s = 120;
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

struct Launch {
  double running = 0; ///< seconds from the start to the last worker's stamp
  double done = 0;    ///< seconds from the start to the launcher's exit
};

/// Runs `argv` (which starts `workers` stamping workers); nullopt when it failed.
std::optional<Launch> launch(std::vector<std::string> argv, const fs::path& stamps, int workers, int cap_s) {
  fs::remove_all(stamps);
  fs::create_directories(stamps);
  const auto start = now_ns();
  const auto result = util::run_command(argv, std::chrono::seconds(cap_s));
  const auto exited = now_ns();
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
  return Launch{static_cast<double>(last - start) / 1e9, static_cast<double>(exited - start) / 1e9};
}

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> values;
  for (const auto& item : util::split(text, ',')) {
    values.push_back(static_cast<int>(util::parse_int(item).value_or(0)));
  }
  return values;
}

/// Medians of the runs that succeeded.
std::optional<Launch> median_launch(const std::vector<Launch>& runs) {
  if (runs.empty()) {
    return std::nullopt;
  }
  std::vector<double> running;
  std::vector<double> done;
  for (const auto& run : runs) {
    running.push_back(run.running);
    done.push_back(run.done);
  }
  return Launch{median(running), median(done)};
}

std::string times(const std::optional<Launch>& run) {
  return run ? fmt::format("{:.3f} {:.3f}", run->running, run->done) : std::string("FAILED");
}

std::string ratios(const std::optional<Launch>& torch, const Launch& brix) {
  // A failure is not a measurement: no ratio is made from it.
  return torch ? fmt::format("{:.1f}x {:.1f}x", torch->running / brix.running, torch->done / brix.done) : std::string("-");
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
    } else if (arg == "--repeat") {
      settings.repeat = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--torch-repeat") {
      settings.torch_repeat = std::max(1, std::atoi(value().c_str()));
    } else if (arg == "--torch-cap") {
      settings.torch_cap_s = std::max(10, std::atoi(value().c_str()));
    } else if (arg == "--no-torch") {
      settings.torch = false;
    } else {
      std::cerr << "usage: bench-launch [--workers 8,32,128] [--repeat N] [--torch-repeat N] [--torch-cap S] "
                   "[--no-torch]\n";
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

  std::cout << "# one node; median seconds from the start to all workers running / to the launcher's exit\n";
  std::cout << fmt::format("{:>8} {:>13} {:>17} {:>17} {:>13} {:>13}\n", "workers", "brix", "torchrun 0.01s",
                           "torchrun 5s", "ratio 0.01s", "ratio 5s");
  for (const int workers : settings.workers) {
    std::vector<Launch> brix_runs;
    for (int r = 0; r < settings.repeat; ++r) {
      if (const auto t = launch({settings.brix, "launch", "--nproc-per-node", std::to_string(workers), "--quiet",
                                 "--log-dir", (scratch / "brix-logs").string(), "--", settings.self, "--stamp",
                                 stamps.string()},
                                stamps, workers, 120)) {
        brix_runs.push_back(*t);
      }
    }
    const auto brix = median_launch(brix_runs);
    if (!brix) {
      return 1;
    }
    std::optional<Launch> torch[2];
    const char* intervals[2] = {"0.01", "5"};
    for (int which = 0; which < 2 && settings.torch; ++which) {
      std::vector<Launch> torch_runs;
      for (int r = 0; r < settings.torch_repeat; ++r) {
        if (const auto t = launch({settings.python, settings.source + "/tests/bench/torchrun_patched.py", "--standalone",
                                   "--nproc_per_node", std::to_string(workers), "--monitor_interval", intervals[which],
                                   "--no_python", "--log_dir", (scratch / "torch-logs").string(), settings.self,
                                   "--stamp", stamps.string()},
                                  stamps, workers, settings.torch_cap_s)) {
          torch_runs.push_back(*t);
        }
      }
      torch[which] = median_launch(torch_runs);
    }
    std::cout << fmt::format("{:>8} {:>13} {:>17} {:>17} {:>13} {:>13}\n", workers, times(brix),
                             settings.torch ? times(torch[0]) : "-", settings.torch ? times(torch[1]) : "-",
                             settings.torch ? ratios(torch[0], *brix) : "-", settings.torch ? ratios(torch[1], *brix) : "-")
              << std::flush;
  }
  fs::remove_all(scratch);
  return 0;
}
