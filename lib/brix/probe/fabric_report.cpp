#include <brix/probe/fabric_report.hpp>

#include <fmt/format.h>

namespace brix::probe {
namespace {

constexpr int k_version = 1;

nlohmann::ordered_json end_document(const FabricResult& result, const LinkEnd& end) {
  return {{"node", node_label(result, end.node)},
          {"node_rank", end.node},
          {"local_rank", end.local_rank},
          {"rank", end.rank}};
}

LinkEnd read_end(const util::DocNode& node) {
  static const std::vector<std::string> keys = {"node", "node_rank", "local_rank", "rank"};
  node.require_known_keys(keys, "a link end");
  return {static_cast<int>(node.at("node_rank").as_non_negative_int("node_rank")),
          static_cast<int>(node.at("local_rank").as_non_negative_int("local_rank")),
          static_cast<int>(node.at("rank").as_non_negative_int("rank"))};
}

LinkClass read_class(const util::DocNode& node) {
  const auto name = node.as_string();
  for (const auto link_class : {LinkClass::inter_node, LinkClass::intra_node}) {
    if (name == link_class_name(link_class)) {
      return link_class;
    }
  }
  node.fail(fmt::format("link class '{}'", name), "inter-node or intra-node");
}

std::string gbps(double value) { return fmt::format("{:.2f}", value); }

} // namespace

nlohmann::ordered_json fabric_document(const FabricResult& result, const FabricFindings& findings) {
  nlohmann::ordered_json doc;
  doc["brix_fabric"] = k_version;
  doc["backend"] = result.backend;
  doc["bytes"] = result.bytes;
  doc["iterations"] = result.iterations;
  doc["ranks"] = result.ranks;
  doc["nodes"] = result.node_names;
  if (result.throttle) {
    doc["throttle"] = {{"node_rank", result.throttle->node}, {"factor", result.throttle->factor}};
  }
  doc["allreduce"] = {{"bytes", result.bytes},
                      {"busbw_gb_per_s", result.allreduce_busbw_gb_per_s},
                      {"wrong", result.allreduce_wrong}};
  doc["threshold"] = findings.threshold;
  doc["medians_gb_per_s"] = nlohmann::ordered_json::object();
  if (findings.inter_median) {
    doc["medians_gb_per_s"]["inter-node"] = *findings.inter_median;
  }
  if (findings.intra_median) {
    doc["medians_gb_per_s"]["intra-node"] = *findings.intra_median;
  }
  auto& links = doc["links"] = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < result.links.size(); ++i) {
    const auto& link = result.links[i];
    links.push_back({{"class", link_class_name(link.link.link_class)},
                     {"a", end_document(result, link.link.a)},
                     {"b", end_document(result, link.link.b)},
                     {"bandwidth_gb_per_s", link.bandwidth_gb_per_s},
                     {"latency_us", link.latency_us},
                     {"ratio", findings.ratio[i]},
                     {"slow", static_cast<bool>(findings.slow[i])}});
  }
  auto& nodes = doc["slow_nodes"] = nlohmann::ordered_json::array();
  for (const auto& node : findings.slow_nodes) {
    nodes.push_back({{"node", node_label(result, node.node)},
                     {"node_rank", node.node},
                     {"class", link_class_name(node.link_class)},
                     {"slow_links", node.slow_links},
                     {"links", node.links},
                     {"ratio", node.ratio},
                     {"message", node.message}});
  }
  doc["slow_links"] = findings.slow_link_count();
  doc["healthy"] = findings.healthy();
  return doc;
}

FabricResult read_fabric_result(const util::DocNode& document) {
  static const std::vector<std::string> keys = {
      "brix_fabric", "backend",    "bytes",      "iterations", "ranks",
      "nodes",       "throttle",   "allreduce",  "threshold",  "medians_gb_per_s",
      "links",       "slow_nodes", "slow_links", "healthy"};
  if (!document.is_map()) {
    document.fail("not a fabric result", "a map from brix-worker fabric --out");
  }
  document.require_known_keys(keys, "a fabric result");
  const auto version = document.at("brix_fabric");
  if (version.as_int() != k_version) {
    version.fail(fmt::format("brix_fabric {}", version.as_int()), "1");
  }
  FabricResult result;
  result.backend = document.at("backend").as_string();
  result.bytes = static_cast<std::size_t>(document.at("bytes").as_positive_int("bytes"));
  result.iterations = static_cast<int>(document.at("iterations").as_positive_int("iterations"));
  result.ranks = static_cast<int>(document.at("ranks").as_positive_int("ranks"));
  for (const auto& name : document.at("nodes").elements()) {
    result.node_names.push_back(name.as_string());
  }
  if (const auto throttle = document.find("throttle")) {
    result.throttle =
        Throttle{static_cast<int>(throttle->at("node_rank").as_non_negative_int("node_rank")),
                 throttle->at("factor").as_positive_double("factor")};
  }
  const auto allreduce = document.at("allreduce");
  result.allreduce_busbw_gb_per_s = allreduce.at("busbw_gb_per_s").as_double();
  result.allreduce_wrong = static_cast<long>(allreduce.at("wrong").as_int());
  const int nodes = static_cast<int>(result.node_names.size());
  for (const auto& item : document.at("links").elements()) {
    static const std::vector<std::string> link_keys = {
        "class", "a", "b", "bandwidth_gb_per_s", "latency_us", "ratio", "slow"};
    item.require_known_keys(link_keys, "a link");
    LinkMeasurement link;
    link.link.link_class = read_class(item.at("class"));
    link.link.a = read_end(item.at("a"));
    link.link.b = read_end(item.at("b"));
    if (link.link.a.node >= nodes || link.link.b.node >= nodes) {
      item.fail("link to a node rank outside 'nodes'", fmt::format("node ranks < {}", nodes));
    }
    link.bandwidth_gb_per_s =
        item.at("bandwidth_gb_per_s").as_positive_double("bandwidth_gb_per_s");
    link.latency_us = item.at("latency_us").as_positive_double("latency_us");
    result.links.push_back(link);
  }
  return result;
}

std::string fabric_text(const FabricResult& result, const FabricFindings& findings,
                        const util::Style& style) {
  std::string out = fmt::format(
      "# brix fabric: {} nodes, {} ranks, {} backend, {} bytes per exchange, {} iterations\n",
      result.node_names.size(), result.ranks, result.backend, result.bytes, result.iterations);
  if (result.throttle) {
    out += style.yellow(fmt::format("# fault injected: node {} throttled {}x\n",
                                    node_label(result, result.throttle->node),
                                    result.throttle->factor));
  }
  util::Table table({"class", "a", "b", "GB/s", "latency us", "of median", "verdict"},
                    {util::Align::left, util::Align::left, util::Align::left, util::Align::right,
                     util::Align::right, util::Align::right, util::Align::left});
  const auto end_label = [&](const LinkEnd& end) {
    return fmt::format("{}:{} (rank {})", node_label(result, end.node), end.local_rank, end.rank);
  };
  for (std::size_t i = 0; i < result.links.size(); ++i) {
    const auto& link = result.links[i];
    table.add_row({std::string(link_class_name(link.link.link_class)), end_label(link.link.a),
                   end_label(link.link.b), gbps(link.bandwidth_gb_per_s),
                   fmt::format("{:.1f}", link.latency_us),
                   fmt::format("{:.0f}%", 100 * findings.ratio[i]),
                   findings.slow[i] ? style.red("SLOW") : "ok"});
  }
  if (table.rows() > 0) {
    out += table.render();
  }
  for (const auto& [name, value] :
       {std::pair{"inter-node", findings.inter_median}, {"intra-node", findings.intra_median}}) {
    if (value) {
      out += fmt::format("# median {} link: {} GB/s\n", name, gbps(*value));
    }
  }
  out +=
      fmt::format("# all-reduce over {} ranks, {} bytes: busbw {} GB/s, #wrong {}\n", result.ranks,
                  result.bytes, gbps(result.allreduce_busbw_gb_per_s), result.allreduce_wrong);
  for (const auto& node : findings.slow_nodes) {
    out += style.red(node.message) + "\n";
  }
  if (result.links.empty()) {
    out += style.yellow("no links measured: one node with one rank (give several nodes, or "
                        "--nproc-per-node > 1)\n");
  } else if (findings.healthy()) {
    out += style.green(fmt::format("fabric healthy: every link at or above {:.0f}% of its "
                                   "class median\n",
                                   100 * findings.threshold));
  } else {
    out += fmt::format("{} slow link(s) below {:.0f}% of the class median, {} slow node(s)\n",
                       findings.slow_link_count(), 100 * findings.threshold,
                       findings.slow_nodes.size());
  }
  return out;
}

int exit_code(const FabricReport& report) {
  return report.findings.healthy() && report.result.allreduce_wrong == 0 ? 0 : 1;
}

nlohmann::ordered_json to_json(const FabricReport& report) { return fabric_document(report.result, report.findings); }

std::string to_text(const FabricReport& report, const util::Style& style) {
  return fabric_text(report.result, report.findings, style);
}

} // namespace brix::probe
