// brix probe: what is in this node (GPUs, adapters, PCIe paths, versions), and
// brix probe merge: what is in this cluster and which node differs.

#include "command.hpp"
#include "probe_bench.hpp"

#include <brix/probe/merge_run.hpp>
#include <brix/probe/nccl_topo.hpp>
#include <brix/probe/node_files.hpp>
#include <brix/probe/probe.hpp>
#include <brix/probe/report_print.hpp>
#include <brix/probe/report_text.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>
#include <brix/util/print.hpp>

#include <cstdlib>
#include <fmt/format.h>
#include <iostream>

namespace brix::cli {

namespace {

struct ProbeOptions {
  std::string format;
  std::string topology;
  std::string nccl_topo;
  std::string out_dir;
  bool matrix = false;
};

struct MergeOptions {
  std::string format;
  std::vector<std::string> inputs;
  std::string output;
  std::string name = "probed-cluster";
  bool strict = false;
};

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

void run_probe(const ProbeOptions& options) {
  const auto format = util::parse_format(options.format);
  probe::ProbeRequest request;
  const bool from_env = options.topology.empty() && !env("HWLOC_XMLFILE").empty();
  request.topology_file = from_env ? env("HWLOC_XMLFILE") : options.topology;
  request.naming.slurm_node_name = env("SLURMD_NODENAME");
  const auto report = [&] {
    try {
      return probe::probe_node(request);
    } catch (const InputError& e) {
      // Say where the path came from when the user did not type it.
      throw InputError(from_env ? fmt::format("HWLOC_XMLFILE: {}", e.what()) : e.what());
    }
  }();

  if (!options.nccl_topo.empty()) {
    const auto path = probe::expand_node_name(options.nccl_topo, report.host);
    util::write_file_atomically(path, probe::nccl_topology_xml(report));
    std::cerr << fmt::format("brix: wrote NCCL topology {}{}\n", path,
                             report.gpus.empty() ? " (no GPUs found: it describes the CPUs and adapters only)" : "");
  }
  if (!options.out_dir.empty()) {
    const auto path = probe::write_node_file(options.out_dir, report, format);
    std::cout << fmt::format("wrote {} (node name from {})\n", path, report.host_source);
    return;
  }
  if (options.matrix) {
    util::print(probe::TopologyMatrix{report}, format);
    return;
  }
  util::print(report, format);
}

int run_merge(const MergeOptions& options) {
  const auto format = util::parse_format(options.format);
  const auto report = probe::run_merge({options.inputs, options.name, options.output});
  util::print(report, format);
  return options.strict && !report.merge.drift.empty() ? 1 : 0;
}

} // namespace

void add_probe_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("probe", "Describe this node (GPUs, adapters, PCIe paths, versions); merge many");
  auto probe_options = std::make_shared<ProbeOptions>();
  add_format_option(*command, probe_options->format);
  command->add_option("--topology", probe_options->topology,
                      "Read an hwloc XML file (lstopo --of xml) instead of this machine; default $HWLOC_XMLFILE")
      ->type_name("FILE.xml");
  command->add_flag("--matrix", probe_options->matrix, "Print the nvidia-smi topo -m style GPU/adapter matrix");
  command->add_option("--nccl-topo", probe_options->nccl_topo,
                      "Write an NCCL topology XML (NCCL_TOPO_FILE); %h stands for the node name")
      ->type_name("FILE");
  auto* out = command->add_option("--out", probe_options->out_dir,
                                  "Write DIR/<node>.yaml, or DIR/<node>.json with --format json (node name from "
                                  "SLURMD_NODENAME, else the hostname)")
                  ->type_name("DIR");
  command->get_option("--matrix")->excludes(out);
  auto bench_flags = add_probe_bench_options(*command);
  command->get_option("--bench")->excludes(out)->excludes("--matrix")->excludes("--nccl-topo")->excludes("--topology");
  command->footer("Examples:\n  brix probe --matrix\n  srun --ntasks-per-node=1 brix probe --out probes/\n"
                  "  brix probe merge probes/ -o cluster.yaml --strict\n"
                  "  srun --ntasks-per-node=1 brix probe --bench --nproc-per-node 8\nSee man brix-probe.");
  command->require_subcommand(0, 1);

  auto* merge = command->add_subcommand("merge", "Group probe files into node groups, write a cluster file, report drift");
  auto merge_options = std::make_shared<MergeOptions>();
  add_format_option(*merge, merge_options->format);
  merge->add_option("inputs", merge_options->inputs, "Directories of probe files, or probe files")
      ->required()
      ->type_name("DIR|FILE");
  merge->add_option("-o,--output", merge_options->output, "Write the cluster description (YAML) here")->type_name("FILE");
  merge->add_option("--name", merge_options->name, "Cluster name in the written file")->default_str("probed-cluster");
  merge->add_flag("--strict", merge_options->strict, "Exit 1 when any node differs from its group's majority");
  merge->callback([merge_options, &context] { context.exit_code = run_merge(*merge_options); });

  command->callback([merge, probe_options, bench_flags, &context] {
    if (merge->parsed()) {
      return;
    }
    if (bench_requested(*bench_flags)) {
      context.exit_code = run_probe_bench(*bench_flags, probe_options->format);
      return;
    }
    run_probe(*probe_options);
    context.exit_code = 0;
  });
}

} // namespace brix::cli
