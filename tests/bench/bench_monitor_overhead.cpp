// Monitoring overhead on a 100 ms training step, measured in one run with monitoring off (no
// collector, no endpoint) and on (a real node collector and job endpoint in this process at
// their default 1 s interval, one progress report per step), in interleaved blocks:
//  1. a GPU-bound step (the worker thread waits 100 ms, as it does on a GPU): wall time per
//     step, on over off (medians), and the CPU time monitoring adds per step as a share of it;
//  2. a CPU-bound step (100 ms of fixed compute on the worker thread): process CPU time per
//     step, on over off — the collector and endpoint compete with the worker; noisy when other
//     processes load the machine, so printed for information.
// Target: the wall ratio and the CPU share of (1) below 1%. One report alone is timed too.
#include <brix/monitor/change_point.hpp>
#include <brix/monitor/clock.hpp>
#include <brix/monitor/collector_agent.hpp>
#include <brix/monitor/endpoint.hpp>
#include <brix/monitor/report.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Steady = std::chrono::steady_clock;

double seconds_since(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

/// User + system CPU seconds of every thread of this process.
double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

/// Fixed work: `iterations` steps of a dependent multiply-add chain (not optimised away).
double compute(long iterations) {
  double x = 1.0;
  for (long i = 0; i < iterations; ++i) {
    x = std::fma(x, 1.0000001, 1e-9);
  }
  return x;
}

/// Iterations for `target_seconds` of CPU time.
long calibrate(double target_seconds) {
  long iterations = 1'000'000;
  while (true) {
    const double start = process_cpu_seconds();
    volatile double sink = compute(iterations);
    (void)sink;
    const double took = process_cpu_seconds() - start;
    if (took > 0.05) {
      return static_cast<long>(static_cast<double>(iterations) * target_seconds / took);
    }
    iterations *= 4;
  }
}

} // namespace

int main() {
  using namespace brix::monitor;
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("brix-bench-monitor-{}", ::getpid());
  std::filesystem::create_directories(dir);
  const SystemClock clock;

  EndpointOptions endpoint_options;
  endpoint_options.job_dir = dir.string();
  endpoint_options.token = "bench";
  endpoint_options.interval = 1.0;
  endpoint_options.monitor.rules = default_rules();
  MonitorEndpoint endpoint(endpoint_options, clock);
  const ProcProcessStats processes;
  const auto gpus = open_nvml();
  CollectorAgentOptions agent_options{"bench-node", (dir / "node.sock").string(),
                                      {"127.0.0.1", endpoint.port()}, "bench", 1.0, 60};
  CollectorAgent agent(agent_options, processes, *gpus, clock);
  Reporter reporter(agent_options.socket_path, 0, 0);

  // 1. GPU-bound steps.
  constexpr int k_gpu_rounds = 6;
  constexpr int k_gpu_block = 5;
  std::vector<double> gpu_wall[2];
  double gpu_cpu[2] = {0, 0};
  std::int64_t gpu_step = 0;
  for (int round = 0; round < k_gpu_rounds; ++round) {
    for (int order = 0; order < 2; ++order) {
      const int mode = (order + round) % 2; // 1: monitoring on
      if (mode == 1) {
        endpoint.start();
        agent.start();
      }
      const double cpu_start = process_cpu_seconds();
      for (int i = 0; i < k_gpu_block; ++i) {
        const auto start = Steady::now();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (mode == 1) {
          ProgressReport report;
          report.step = gpu_step++;
          report.step_seconds = seconds_since(start);
          report.values = {{"loss", 2.5}, {"grad_norm", 1.1}, {"tokens", 524288}};
          (void)reporter.send(std::move(report));
        }
        gpu_wall[mode].push_back(seconds_since(start));
      }
      gpu_cpu[mode] += process_cpu_seconds() - cpu_start;
      if (mode == 1) {
        agent.stop();
        endpoint.stop();
      }
    }
  }

  // 2. CPU-bound steps.
  const long iterations = calibrate(0.1);
  constexpr int k_rounds = 8;
  constexpr int k_block = 4;
  std::vector<double> wall[2];
  double cpu[2] = {0, 0};
  std::int64_t step = 0;
  volatile double sink = 0;
  for (int round = 0; round < k_rounds; ++round) {
    for (int order = 0; order < 2; ++order) {
      // Alternate which mode goes first so that neither always follows the other.
      const int mode = (order + round) % 2; // 1: monitoring on
      if (mode == 1) {
        endpoint.start();
        agent.start();
      }
      const double cpu_start = process_cpu_seconds();
      for (int i = 0; i < k_block; ++i) {
        const auto start = Steady::now();
        sink = sink + compute(iterations);
        if (mode == 1) {
          ProgressReport report;
          report.step = step++;
          report.step_seconds = seconds_since(start);
          report.compute_seconds = report.step_seconds;
          report.values = {{"loss", 2.5}, {"grad_norm", 1.1}, {"tokens", 524288}};
          (void)reporter.send(std::move(report));
        }
        wall[mode].push_back(seconds_since(start));
      }
      cpu[mode] += process_cpu_seconds() - cpu_start;
      if (mode == 1) {
        agent.stop();
        endpoint.stop();
      }
    }
  }
  // One report alone, many times (a node's 8 ranks per step, the collector draining them).
  endpoint.start();
  agent.start();
  constexpr int k_reports = 2000;
  const auto reports_start = Steady::now();
  for (int i = 0; i < k_reports; ++i) {
    ProgressReport report;
    report.step = step++;
    report.step_seconds = 0.1;
    report.values = {{"loss", 2.5}, {"grad_norm", 1.1}, {"tokens", 524288}};
    (void)reporter.send(std::move(report));
    if (i % 8 == 7) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  const double sleeping = 0.001 * (k_reports / 8);
  const double per_report_us = std::max(0.0, seconds_since(reports_start) - sleeping) / k_reports * 1e6;
  agent.stop();
  endpoint.stop();

  const double gpu_steps = k_gpu_rounds * k_gpu_block;
  const double gpu_wall_ratio = median(gpu_wall[1]) / median(gpu_wall[0]);
  const double added_cpu = (gpu_cpu[1] - gpu_cpu[0]) / gpu_steps;
  const double added_share = added_cpu / median(gpu_wall[0]);
  const double steps = k_rounds * k_block;
  std::printf("monitoring overhead on a 100 ms step (monitoring off vs on, interleaved, same run)\n");
  std::printf(" GPU-bound step (%.0f steps per mode)\n", gpu_steps);
  std::printf("  wall per step, off / on       %8.3f / %.3f ms (medians)\n", median(gpu_wall[0]) * 1e3,
              median(gpu_wall[1]) * 1e3);
  std::printf("  wall ratio                    %8.4f   (target < 1.01)\n", gpu_wall_ratio);
  std::printf("  CPU added by monitoring       %8.3f ms per step = %.3f%% of the step (target < 1%%)\n",
              added_cpu * 1e3, added_share * 100);
  std::printf(" CPU-bound step (%.0f steps per mode)\n", steps);
  std::printf("  process CPU per step, off/on  %8.3f / %.3f ms, ratio %.4f (noisy on a shared machine)\n",
              cpu[0] / steps * 1e3, cpu[1] / steps * 1e3, cpu[1] / cpu[0]);
  std::printf("  wall per step, off / on       %8.3f / %.3f ms (medians), ratio %.4f\n", median(wall[0]) * 1e3,
              median(wall[1]) * 1e3, median(wall[1]) / median(wall[0]));
  std::printf("  one report                    %8.2f us (%.4f%% of a 100 ms step)\n", per_report_us, per_report_us / 1e3);
  std::printf("  reports dropped               %8llu; samples forwarded %llu\n",
              static_cast<unsigned long long>(reporter.dropped()), static_cast<unsigned long long>(agent.sent()));
  std::filesystem::remove_all(dir);
  const bool ok = gpu_wall_ratio < 1.01 && added_share < 0.01;
  std::printf("%s\n", ok ? "PASS" : "FAIL: monitoring overhead at or above 1%");
  return ok ? 0 : 1;
}
