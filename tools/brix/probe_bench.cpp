// brix probe --bench: flags, then brix::launch::run_fabric_probe or the result file, then the
// report.
#include "probe_bench.hpp"

#include <brix/probe/fabric_report.hpp>
#include <brix/launch/fabric_run.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>
#include <brix/util/print.hpp>

#include <fmt/format.h>
#include <iostream>

namespace brix::cli {

struct ProbeBenchFlags {
  bool bench = false;
  std::string results;
  double threshold = 0.8;
  launch::FabricRunRequest request;
  int node_rank = -1;
  double rdzv_timeout_s = 600;
  int throttle_node = -1;
  double throttle_factor = 4;
};

std::shared_ptr<ProbeBenchFlags> add_probe_bench_options(CLI::App& probe) {
  auto flags = std::make_shared<ProbeBenchFlags>();
  auto& f = *flags;
  auto& r = f.request;
  const std::string group = "Fabric benchmark (--bench)";
  auto* bench = probe
                    .add_flag("--bench", f.bench,
                              "Measure every node pair and local pair with brix-worker fabric; "
                              "name slow links and nodes (exit 1)")
                    ->group(group);
  auto* results = probe
                      .add_option("--results", f.results,
                                  "Report a result file (brix-worker fabric --out, --save) "
                                  "instead of measuring")
                      ->type_name("FILE")
                      ->group(group)
                      ->needs(bench);
  probe
      .add_option("--threshold", f.threshold,
                  "A link is slow below this fraction of its class median (0.8)")
      ->check(CLI::Range(0.0001, 1.0))
      ->group(group)
      ->needs(bench);
  // Every other option measures: none of them goes with --results.
  const auto with_bench = [&](CLI::Option* option) {
    option->group(group)->needs(bench)->excludes(results);
  };
  with_bench(probe.add_option("--size", r.size, "Bytes per exchange (K, M, G suffixes; 64M)"));
  with_bench(probe.add_option("--iters", r.iterations, "Timed exchanges per link (10)")
                 ->check(CLI::Range(1, 1000000)));
  with_bench(probe.add_option("--warmup", r.warmup, "Warm-up exchanges per link (2)")
                 ->check(CLI::Range(0, 100000)));
  with_bench(probe.add_option("--backend", r.backend, "gloo, nccl or auto (nccl with a GPU)"));
  with_bench(
      probe.add_option("--save", r.save, "Node 0 keeps the result file here")->type_name("FILE"));
  auto* throttle_node = probe
                            .add_option("--throttle-node", f.throttle_node,
                                        "Fault injection for drills: run this node rank's "
                                        "links slower")
                            ->check(CLI::Range(0, 1000000));
  with_bench(throttle_node);
  with_bench(probe
                 .add_option("--throttle-factor", f.throttle_factor,
                             "How many times slower --throttle-node runs (4)")
                 ->check(CLI::Range(1.0, 1000.0))
                 ->needs(throttle_node));
  auto& l = r.launch;
  with_bench(
      probe.add_option("--hosts", l.nodes.hosts, "Node names, hostlist syntax (as brix launch)"));
  with_bench(
      probe.add_option("--hostfile", l.nodes.hostfile, "DeepSpeed hostfile (as brix launch)"));
  with_bench(probe.add_option("--node-rank", f.node_rank, "This node's rank in --hosts/--hostfile")
                 ->check(CLI::Range(0, 1000000)));
  with_bench(probe
                 .add_option("--nproc-per-node", l.nproc_per_node,
                             "Ranks per node (one per GPU; default 1: inter-node links only)")
                 ->check(CLI::Range(1, 4096)));
  with_bench(probe.add_option("--rdzv-port", l.rdzv_port, "Rendezvous port (default 29400)")
                 ->check(CLI::Range(1, 65535)));
  with_bench(probe.add_option("--master-port", l.master_port, "MASTER_PORT (default 29500)")
                 ->check(CLI::Range(1, 65535)));
  with_bench(
      probe.add_option("--rdzv-timeout", f.rdzv_timeout_s, "Seconds to wait for every node (600)")
          ->check(CLI::Range(0.1, 1e7)));
  with_bench(probe.add_option("--log-dir", l.log_dir, "Worker logs (as brix launch)"));
  return flags;
}

bool bench_requested(const ProbeBenchFlags& flags) { return flags.bench; }

int run_probe_bench(const ProbeBenchFlags& flags, const std::string& format_name) {
  const auto format = util::parse_format(format_name);
  probe::FabricResult result;
  if (!flags.results.empty()) {
    result = probe::read_fabric_result(util::DocNode::load_file(flags.results));
  } else {
    auto request = flags.request;
    request.worker = launch::default_worker_path();
    if (flags.node_rank >= 0) {
      request.launch.nodes.node_rank = flags.node_rank;
    }
    if (flags.throttle_node >= 0) {
      request.throttle = probe::Throttle{flags.throttle_node, flags.throttle_factor};
    }
    request.launch.rdzv_timeout =
        std::chrono::milliseconds(static_cast<long long>(flags.rdzv_timeout_s * 1000));
    request.launch.console = false; // the report below is the output; worker logs in --log-dir
    const auto run = launch::run_fabric_probe(request);
    if (run.launch_exit_code != 0) {
      throw JobError(fmt::format("the fabric measurement failed (exit {}); see the worker logs",
                                 run.launch_exit_code));
    }
    if (!run.result) {
      std::cerr << "brix: this node's part of the fabric measurement is done; node 0 reports\n";
      return 0;
    }
    result = *run.result;
  }
  const auto findings = probe::analyse_fabric(result, flags.threshold);
  const probe::FabricReport report{result, findings};
  util::print(report, format);
  return probe::exit_code(report);
}

} // namespace brix::cli
