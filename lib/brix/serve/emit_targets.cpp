// The serving --emit table and its shell writers: per-node engine commands, and the sbatch
// script that runs them under `brix launch`. Kubernetes writers are in emit_k8s.cpp.
#include <brix/serve/emit_targets.hpp>

#include <brix/serve/deployment.hpp>
#include <brix/serve/emit_k8s.hpp>
#include <brix/serve/node_script.hpp>
#include <brix/serve/serve_html.hpp>
#include <brix/util/error.hpp>
#include <brix/util/named.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>

namespace brix::serve {

namespace {

/// The engine target must be the engine the plan was costed for: flags and memory rules differ.
Deployment engine_deployment(const ServeReport& report, Engine engine, std::string_view target) {
  if (report.engine->engine != engine) {
    throw InputError(fmt::format("--emit {}: the plans were costed for --engine {} (expected --emit {}, or --engine {})",
                                 target, to_string(report.engine->engine), to_string(report.engine->engine), target));
  }
  return deploy(report, best_plan(report, target));
}

Emitted write_engine(const ServeReport& report, Engine engine, std::string_view target) {
  const auto deployment = engine_deployment(report, engine, target);
  std::string out = "#!/usr/bin/env bash\n";
  out += plan_comment(deployment);
  if (deployment.nodes > 1) {
    out += fmt::format("# Run this script on each of the {} nodes with NODE_RANK set to its rank (0-{}) and NODE_0 … "
                       "NODE_{} to the nodes' addresses\n# (brix plan --serve --emit slurm does it for you under brix "
                       "launch).\n",
                       deployment.nodes, deployment.nodes - 1, deployment.nodes - 1);
  } else {
    out += "# Run this script on the node.\n";
  }
  out += "set -euo pipefail\n";
  out += model_line(deployment) + "\n";
  if (deployment.nodes > 1) {
    out += fmt::format(": \"${{NODE_RANK:?set NODE_RANK to the rank of this node, 0-{}}}\"\n", deployment.nodes - 1);
    for (const auto& variable : node_variables(deployment)) {
      out += fmt::format(": \"${{{0}:?set {0} to the address of node {1}}}\"\n", variable, variable.substr(5));
    }
  } else {
    out += "NODE_RANK=${NODE_RANK:-0}\nNODE_0=${NODE_0:-127.0.0.1}\n";
  }
  out += node_script(deployment);
  return {out, {}};
}

Emitted write_vllm(const ServeReport& report) { return write_engine(report, Engine::vllm, "vllm"); }
Emitted write_sglang(const ServeReport& report) { return write_engine(report, Engine::sglang, "sglang"); }
Emitted write_trtllm(const ServeReport& report) { return write_engine(report, Engine::trtllm, "trtllm"); }

/// An sbatch script: one `brix launch` agent per node (srun --ntasks-per-node=1), one worker per
/// node running the node script for BRIX_NODE_RANK, so supervision, logs, signals and
/// `brix recover` work as for training jobs.
Emitted write_slurm(const ServeReport& report) {
  const auto deployment = deploy(report, best_plan(report, "slurm"));
  const auto& group = deployment.group->group;
  std::string out = "#!/usr/bin/env bash\n";
  out += plan_comment(deployment);
  out += fmt::format(
      "# Submit with: sbatch this-file (BRIX=/path/to/brix if brix is not on PATH). Every node runs one brix launch\n"
      "# agent (srun --ntasks-per-node=1); its one worker runs this node's engine command for BRIX_NODE_RANK, with\n"
      "# the nodes' addresses in NODE_0 … NODE_{} (brix launch ranks nodes in SLURM_JOB_NODELIST order; NODE_0 is its\n"
      "# MASTER_ADDR). Logs: brix launch's job directory $BRIX_SERVE_LOG_DIR (a folder per attempt, .out/.err per\n"
      "# node); scancel stops every engine.\n",
      deployment.nodes - 1);
  out += fmt::format("#SBATCH --job-name=brix-serve-{}\n", report.model.name);
  out += fmt::format("#SBATCH --nodes={}\n", deployment.nodes);
  out += "#SBATCH --ntasks-per-node=1\n";
  out += fmt::format("#SBATCH --gpus-per-node={}\n", group.gpus_per_node);
  out += "#SBATCH --exclusive\n";
  out += "#SBATCH --open-mode=append\n";
  out += "set -euo pipefail\n";
  out += "BRIX=${BRIX:-brix}\n";
  out += "if [ -z \"${BRIX_JOB_TOKEN:-}\" ]; then\n"
         "  BRIX_JOB_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n')\n"
         "  export BRIX_JOB_TOKEN\n"
         "fi\n";
  out += model_line(deployment) + "\nexport MODEL\n";
  out += "mapfile -t hosts < <(scontrol show hostnames \"$SLURM_JOB_NODELIST\")\n";
  out += "for i in \"${!hosts[@]}\"; do export \"NODE_$i=${hosts[$i]}\"; done\n";
  out += "BRIX_SERVE_LOG_DIR=${BRIX_SERVE_LOG_DIR:-brix-serve-$SLURM_JOB_ID}\n";
  out += "# What every node runs (NODE_RANK is brix launch's BRIX_NODE_RANK).\n";
  out += "read -r -d '' node_script <<'NODE' || true\n";
  out += "NODE_RANK=$BRIX_NODE_RANK\n";
  out += node_script(deployment);
  out += "NODE\n";
  out += "exec srun --ntasks-per-node=1 --kill-on-bad-exit=1 \"$BRIX\" launch --nproc-per-node 1 --cpu-bind none \\\n"
         "  --log-dir \"$BRIX_SERVE_LOG_DIR\" -- bash -c \"$node_script\"\n";
  return {out, {}};
}

Emitted write_html(const ServeReport& report) { return {serve_html(report), {}}; }

constexpr EmitTarget k_targets[] = {
    {"vllm", "vLLM commands per node", write_vllm},
    {"sglang", "SGLang commands per node", write_sglang},
    {"trtllm", "TensorRT-LLM commands per node", write_trtllm},
    {"slurm", "an sbatch script running every node through brix launch", write_slurm},
    {"k8s", "a LeaderWorkerSet manifest", write_k8s},
    {"aibrix", "an AIBrix RayClusterFleet (vLLM over Ray)", write_aibrix},
    {"html", "an HTML page of the plans with the Pareto front", write_html},
};

std::vector<std::string> target_names() { return util::names_of<EmitTarget>(k_targets); }

} // namespace

std::span<const EmitTarget> emit_targets() { return k_targets; }

const EmitTarget& find_emit_target(std::string_view name) {
  return util::find_named<EmitTarget>(k_targets, name, "--emit", "serving target");
}

std::string emit_target_names(std::string_view separator) { return fmt::format("{}", fmt::join(target_names(), separator)); }

} // namespace brix::serve
