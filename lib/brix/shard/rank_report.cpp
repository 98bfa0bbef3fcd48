#include <brix/shard/rank_report.hpp>

#include <brix/plan/plan_file.hpp>

#include <fmt/format.h>
#include <set>

namespace brix::shard {

namespace {

using Json = nlohmann::ordered_json;

Json index_or_null(int value) { return value >= 0 ? Json(value) : Json(nullptr); }
Json text_or_null(const std::string& value) { return value.empty() ? Json(nullptr) : Json(value); }

std::string layers_text(const RankPlacement& rank) {
  std::vector<std::string> parts;
  for (const auto& stage : rank.stages) {
    parts.push_back(stage.last_layer < stage.first_layer ? std::string("none") // the embedding or loss alone
                    : stage.first_layer == stage.last_layer
                        ? fmt::format("{}", stage.first_layer)
                        : fmt::format("{}-{}", stage.first_layer, stage.last_layer));
  }
  return fmt::format("{}", fmt::join(parts, ","));
}

std::size_t distinct_groups(const RankMap& map, std::vector<int> RankGroups::*member) {
  std::set<std::vector<int>> seen;
  for (const auto& rank : map.ranks) {
    seen.insert(rank.groups.*member);
  }
  return seen.size();
}

} // namespace

Json to_json(const RankMap& map) {
  Json nodes = Json::array();
  for (std::size_t n = 0; n < map.nodes.size(); ++n) {
    const auto& node = map.nodes[n];
    int first = -1;
    int last = -1;
    for (const auto& rank : map.ranks) {
      if (rank.node == static_cast<int>(n)) {
        first = first < 0 ? rank.rank : first;
        last = rank.rank;
      }
    }
    nodes.push_back({{"index", n},
                     {"name", node.name},
                     {"named", node.named},
                     {"group", node.group},
                     {"gpus", node.gpus},
                     {"ranks", {first, last}},
                     {"topology", node.topology ? Json(node.topology->source) : Json(nullptr)}});
  }
  Json ranks = Json::array();
  for (const auto& rank : map.ranks) {
    const auto& node = map.nodes[static_cast<std::size_t>(rank.node)];
    Json stages = Json::array();
    for (const auto& stage : rank.stages) {
      stages.push_back({{"virtual_stage", stage.virtual_stage},
                        {"stage", stage.stage},
                        {"layers", {stage.first_layer, stage.last_layer}}});
    }
    Json env = Json::object();
    for (const auto& [key, value] : rank.env) {
      env[key] = value;
    }
    const auto& g = rank.groups;
    ranks.push_back({{"rank", rank.rank},
                     {"node", {{"index", rank.node}, {"name", node.name}}},
                     {"local_rank", rank.local_rank},
                     {"gpu", rank.gpu},
                     {"coordinates",
                      {{"tp", rank.tp},
                       {"cp", rank.cp},
                       {"dp", rank.dp},
                       {"pp", rank.pp},
                       {"ep", rank.ep},
                       {"expert_tp", rank.expert_tp},
                       {"expert_dp", rank.expert_dp}}},
                     {"stages", stages},
                     {"groups",
                      {{"tp", g.tp},
                       {"cp", g.cp},
                       {"dp", g.dp},
                       {"dp_cp", g.dp_cp},
                       {"pp", g.pp},
                       {"ep", g.ep},
                       {"expert_tp", g.expert_tp},
                       {"expert_dp", g.expert_dp},
                       {"embedding", g.embedding}}},
                     {"numa_node", index_or_null(rank.numa_node)},
                     {"cpus", text_or_null(rank.cpus)},
                     {"nics", rank.nics},
                     {"nic_path", rank.nic_path >= 0 ? Json(std::string(probe::path_class_name(static_cast<PathClass>(rank.nic_path))))
                                                     : Json(nullptr)},
                     {"env", env},
                     {"bind", text_or_null(rank.bind)}});
  }
  Json findings = Json::array();
  for (const auto& finding : map.findings) {
    findings.push_back({{"check", finding.check}, {"message", finding.message}});
  }
  return Json{{"order", fmt::format("{}", fmt::join(map.order, "-"))},
              {"world", map.ranks.size()},
              {"layout", plan::layout_to_json(map.layout)},
              {"decoder_layers", map.decoder_layers},
              {"nodes", nodes},
              {"ranks", ranks},
              {"findings", findings}};
}

std::string to_text(const RankMap& map, const util::Style& style) {
  const auto& layout = map.layout;
  std::string out = style.bold(fmt::format("{} ranks on {} node(s)", map.ranks.size(), map.nodes.size()));
  out += fmt::format("  order {}  tp {} cp {} dp {} pp {} (vpp {})  experts: ep {} etp {} expert-dp {}\n",
                     fmt::join(map.order, "-"), layout.tp, layout.cp, layout.dp, layout.pp, layout.vpp,
                     layout.ep, layout.etp, layout.world() / (layout.ep * layout.etp * layout.pp));
  out += fmt::format("groups: {} TP, {} CP, {} DP, {} PP, {} EP, {} expert-DP, {} embedding\n\n",
                     distinct_groups(map, &RankGroups::tp), distinct_groups(map, &RankGroups::cp),
                     distinct_groups(map, &RankGroups::dp), distinct_groups(map, &RankGroups::pp),
                     distinct_groups(map, &RankGroups::ep), distinct_groups(map, &RankGroups::expert_dp),
                     distinct_groups(map, &RankGroups::embedding));
  util::Table table({"rank", "node", "gpu", "tp", "cp", "dp", "pp", "ep", "edp", "layers", "numa", "cpus",
                     "adapter"},
                    {util::Align::right, util::Align::left, util::Align::right, util::Align::right,
                     util::Align::right, util::Align::right, util::Align::right, util::Align::right,
                     util::Align::right, util::Align::left, util::Align::right, util::Align::left,
                     util::Align::left});
  for (const auto& rank : map.ranks) {
    std::string adapter = rank.nics.empty() ? "-" : fmt::format("{}", fmt::join(rank.nics, ","));
    if (rank.nic_path >= 0) {
      adapter += fmt::format(" ({})", probe::path_class_name(static_cast<PathClass>(rank.nic_path)));
    }
    table.add_row({std::to_string(rank.rank), map.nodes[static_cast<std::size_t>(rank.node)].name,
                   std::to_string(rank.gpu), std::to_string(rank.tp), std::to_string(rank.cp),
                   std::to_string(rank.dp), std::to_string(rank.pp), std::to_string(rank.ep),
                   std::to_string(rank.expert_dp), layers_text(rank),
                   rank.numa_node >= 0 ? std::to_string(rank.numa_node) : "-",
                   rank.cpus.empty() ? "-" : rank.cpus, adapter});
  }
  out += table.render();
  for (const auto& finding : map.findings) {
    out += fmt::format("{} [{}] {}\n", style.yellow("warning:"), finding.check, finding.message);
  }
  return out;
}

} // namespace brix::shard
