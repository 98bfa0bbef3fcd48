// The per-node shell of a serving deployment.
#include <brix/serve/node_script.hpp>

#include <brix/serve/engine_commands.hpp>

#include <fmt/format.h>

namespace brix::serve {

namespace {

std::string node_variable(int node) { return fmt::format("NODE_{}", node); }

std::string url(const InstancePlacement& instance) {
  return fmt::format("http://${}:{}", node_variable(instance.first_node), instance.port);
}

std::string describe(const InstancePlacement& instance, int node) {
  std::string gpus = instance.gpus_per_node == 1 ? fmt::format("GPU {}", instance.first_gpu)
                                                 : fmt::format("GPUs {}-{}", instance.first_gpu,
                                                               instance.first_gpu + instance.gpus_per_node - 1);
  const int rank = node - instance.first_node;
  return fmt::format("{} instance {}: node {} of {}, {}{}", to_string(instance.role), instance.index, rank + 1,
                     instance.nodes, gpus,
                     rank == 0 ? fmt::format(", API on port {}", instance.port) : std::string(" (headless)"));
}

void append_command(std::string& out, const Command& command, bool background) {
  for (const auto& line : command.setup) {
    out += "    " + line + "\n";
  }
  out += fmt::format("    {}{}{}\n", background ? "" : "exec ", command_line(command), background ? " &" : "");
}

} // namespace

std::vector<std::string> node_variables(const Deployment& deployment) {
  std::vector<std::string> out;
  for (int node = 0; node < deployment.nodes; ++node) {
    out.push_back(node_variable(node));
  }
  return out;
}

std::string model_line(const Deployment& deployment) {
  if (!deployment.model_id.empty()) {
    return fmt::format("MODEL=${{MODEL:-{}}}", deployment.model_id);
  }
  // The hint names the model, which may hold any character: quoted as one word, outside ${...}.
  return fmt::format("if [ -z \"${{MODEL:-}}\" ]; then echo {} >&2; exit 2; fi",
                     shell_word("set MODEL to " + deployment.model_hint));
}

std::string plan_comment(const Deployment& deployment) {
  const auto& report = *deployment.report;
  const auto& plan = *deployment.plan;
  const auto& performance = plan.performance;
  const auto& workload = report.workload;
  return fmt::format(
      "# {} on {} node{} of {} ({} × {}), {} {}.\n"
      "# brix plan --serve layout: {}\n"
      "# Predicted at ISL {}{} / OSL {}, {}: TTFT {:.0f} ms, TPOT {:.1f} ms, {:.0f} output tokens/s "
      "({:.0f} per GPU).\n",
      report.model.name, deployment.nodes, deployment.nodes == 1 ? "" : "s", deployment.group->group.name,
      deployment.group->group.gpus_per_node,
      deployment.group->group.gpu.display, to_string(deployment.engine->engine), deployment.engine->version,
      to_string(plan.layout), workload.isl,
      workload.cached_tokens > 0
          ? fmt::format(" ({} of them in the prefix cache: keep it on)", workload.cached_tokens)
          : std::string(),
      workload.osl,
      workload.request_rate > 0 ? fmt::format("{} requests/s", workload.request_rate)
                                : fmt::format("{} requests in flight", workload.concurrency),
      performance.ttft_s * 1e3, performance.tpot_s * 1e3, performance.output_tokens_per_s,
      plan.output_tokens_per_s_per_gpu);
}

std::string node_script(const Deployment& deployment) {
  std::string out;
  const auto& fabric = deployment.fabric;
  if (fabric.rdma()) {
    out += fabric.from_topology ? "# InfiniBand adapters from the cluster file's topology block (brix probe merge).\n"
                                : fmt::format("# The usual names of the node's {} compute adapters (the cluster file has no "
                                              "topology block; brix probe merge writes one with the real names).\n",
                                              fabric.adapters.size());
    out += fmt::format("export NCCL_IB_HCA={} NCCL_IB_DISABLE=0\n", fabric.nccl_ib_hca());
  }
  if (deployment.nodes > 1) {
    if (!fabric.socket_ifname.empty()) {
      out += fmt::format("export GLOO_SOCKET_IFNAME={0} NCCL_SOCKET_IFNAME={0}\n", fabric.socket_ifname);
    } else {
      out += "# Gloo and NCCL's bootstrap need the IP interface that reaches the other nodes.\n";
      out += "export GLOO_SOCKET_IFNAME=\"${SOCKET_IFNAME:?set SOCKET_IFNAME to the interface between nodes, e.g. "
             "eth0}\"\n";
      out += "export NCCL_SOCKET_IFNAME=\"$GLOO_SOCKET_IFNAME\"\n";
    }
  }
  std::vector<std::string> prefill_urls;
  std::vector<std::string> decode_urls;
  for (const auto& instance : deployment.instances) {
    if (instance.role == Role::prefill) {
      prefill_urls.push_back(url(instance));
    } else if (instance.role == Role::decode) {
      decode_urls.push_back(url(instance));
    }
  }
  out += "case \"$NODE_RANK\" in\n";
  for (int node = 0; node < deployment.nodes; ++node) {
    std::vector<std::pair<std::string, Command>> processes;
    for (const auto& instance : deployment.instances) {
      if (node < instance.first_node || node >= instance.first_node + instance.nodes) {
        continue;
      }
      const NodeRef ref{"$" + node_variable(instance.first_node), node - instance.first_node, {},
                        "$" + node_variable(node)};
      processes.emplace_back(describe(instance, node), engine_command(deployment, instance, ref));
    }
    if (node == deployment.router_node) {
      processes.emplace_back(fmt::format("the P/D router, clients connect to port {}", deployment.router_port),
                             router_command(deployment, prefill_urls, decode_urls));
    }
    out += fmt::format("  {})\n", node);
    const bool several = processes.size() > 1;
    if (several) {
      // The node's processes end together: when one exits, the EXIT trap stops the others and
      // the script exits with the status of the one that ended.
      out += "    trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n";
    }
    for (const auto& [what, command] : processes) {
      out += "    # " + what + "\n";
      append_command(out, command, several);
    }
    if (several) {
      out += "    wait -n\n";
    }
    out += "    ;;\n";
  }
  out += fmt::format("  *)\n    echo \"NODE_RANK=$NODE_RANK: this plan runs on nodes 0-{}\" >&2\n    exit 2\n    ;;\n",
                     deployment.nodes - 1);
  out += "esac\n";
  return out;
}

} // namespace brix::serve
