#include <brix/probe/fabric_analysis.hpp>
#include <brix/probe/fabric_report.hpp>
#include <brix/probe/fabric_schedule.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <set>
#include <utility>

using namespace brix::probe;

namespace {

/// Every pair exactly once, nobody twice in a round.
void check_tournament(int players) {
  CAPTURE(players);
  const auto rounds = round_robin_rounds(players);
  std::set<std::pair<int, int>> seen;
  for (const auto& round : rounds) {
    std::set<int> busy;
    for (const auto& pair : round) {
      CHECK(pair.a < pair.b);
      CHECK(pair.a >= 0);
      CHECK(pair.b < players);
      CHECK(busy.insert(pair.a).second);
      CHECK(busy.insert(pair.b).second);
      CHECK(seen.insert({pair.a, pair.b}).second);
    }
  }
  CHECK(seen.size() == static_cast<std::size_t>(players * (players - 1) / 2));
  if (players >= 2) {
    CHECK(rounds.size() == static_cast<std::size_t>(players % 2 == 0 ? players - 1 : players));
  }
}

/// `nodes` nodes of `local` ranks, ranks numbered node-major as brix launch does.
std::vector<RankPlace> places(int nodes, int local) {
  std::vector<RankPlace> out;
  for (int node = 0; node < nodes; ++node) {
    for (int l = 0; l < local; ++l) {
      out.push_back({node, l});
    }
  }
  return out;
}

/// Inter-node links of `nodes` nodes at `normal` GB/s, those touching `slow_node` at `slow`.
FabricResult fake_fabric(int nodes, double normal, int slow_node, double slow) {
  FabricResult result;
  result.backend = "fake";
  result.bytes = 1 << 20;
  result.iterations = 3;
  result.ranks = nodes;
  for (int node = 0; node < nodes; ++node) {
    result.node_names.push_back("n" + std::to_string(node + 1));
  }
  for (const auto& round : fabric_schedule(places(nodes, 1))) {
    for (const auto& link : round) {
      const bool bad = link.a.node == slow_node || link.b.node == slow_node;
      // A little spread, as real measurements have.
      const double jitter = 1.0 + 0.01 * ((link.a.node + link.b.node) % 3);
      result.links.push_back({link, (bad ? slow : normal) * jitter, 5.0});
    }
  }
  return result;
}

} // namespace

TEST_CASE("probe::round_robin_rounds") {
  for (int players = 0; players <= 17; ++players) {
    check_tournament(players);
  }
  CHECK(round_robin_rounds(1).empty());
  CHECK(round_robin_rounds(2).size() == 1);
}

TEST_CASE("probe::fabric_schedule") {
  SUBCASE("inter-node links between local rank 0 of every node, then intra-node pairs") {
    const auto rounds = fabric_schedule(places(4, 3));
    std::set<std::pair<int, int>> inter;
    std::set<std::tuple<int, int, int>> intra;
    for (const auto& round : rounds) {
      std::set<int> busy;
      for (const auto& link : round) {
        CHECK(busy.insert(link.a.rank).second);
        CHECK(busy.insert(link.b.rank).second);
        CHECK(link.a.rank == link.a.node * 3 + link.a.local_rank);
        if (link.link_class == LinkClass::inter_node) {
          CHECK(link.a.local_rank == 0);
          CHECK(link.b.local_rank == 0);
          CHECK(inter.insert({link.a.node, link.b.node}).second);
        } else {
          CHECK(link.a.node == link.b.node);
          CHECK(intra.insert({link.a.node, link.a.local_rank, link.b.local_rank}).second);
        }
      }
    }
    CHECK(inter.size() == 6);
    CHECK(intra.size() == 4 * 3);
    CHECK(rounds.size() == 3 + 3); // 4 nodes: 3 rounds; 3 local ranks: 3 rounds
  }
  SUBCASE("one rank per node has no intra-node links; one node no inter-node links") {
    for (const auto& round : fabric_schedule(places(5, 1))) {
      for (const auto& link : round) {
        CHECK(link.link_class == LinkClass::inter_node);
      }
    }
    for (const auto& round : fabric_schedule(places(1, 4))) {
      for (const auto& link : round) {
        CHECK(link.link_class == LinkClass::intra_node);
      }
    }
  }
  SUBCASE("a missing node or a repeated local rank is refused") {
    CHECK_THROWS_AS((void)fabric_schedule({{0, 0}, {2, 0}}), brix::InputError);
    CHECK_THROWS_AS((void)fabric_schedule({{0, 0}, {0, 0}}), brix::InputError);
  }
}

TEST_CASE("probe::median") {
  CHECK(median({}) == 0);
  CHECK(median({3, 1, 2}) == 2);
  CHECK(median({4, 1, 3, 2}) == 2.5);
}

TEST_CASE("probe::analyse_fabric") {
  SUBCASE("an even fabric is healthy") {
    const auto findings = analyse_fabric(fake_fabric(4, 10, -1, 10), 0.8);
    CHECK(findings.healthy());
    CHECK(findings.inter_median.has_value());
    CHECK_FALSE(findings.intra_median.has_value());
  }
  SUBCASE("a node with every link at a quarter is named") {
    const auto result = fake_fabric(4, 10, 2, 2.5);
    const auto findings = analyse_fabric(result, 0.8);
    CHECK_FALSE(findings.healthy());
    CHECK(findings.slow_link_count() == 3);
    REQUIRE(findings.slow_nodes.size() == 1);
    const auto& node = findings.slow_nodes.front();
    CHECK(node.node == 2);
    CHECK(node.slow_links == 3);
    CHECK(node.links == 3);
    CHECK(node.ratio < 0.3);
    CHECK(node.message.find("node n3: 3 of 3 inter-node links slow") == 0);
  }
  SUBCASE("one bad node of three holds most links, and is still named alone") {
    const auto findings = analyse_fabric(fake_fabric(3, 10, 0, 3), 0.8);
    REQUIRE(findings.slow_nodes.size() == 1);
    CHECK(findings.slow_nodes.front().node == 0);
  }
  SUBCASE("two nodes: one link, no node can be blamed") {
    const auto findings = analyse_fabric(fake_fabric(2, 10, 0, 3), 0.8);
    CHECK(findings.slow_nodes.empty());
  }
  SUBCASE("a single slow link slows no node") {
    auto result = fake_fabric(6, 10, -1, 10);
    result.links.front().bandwidth_gb_per_s = 4;
    const auto findings = analyse_fabric(result, 0.8);
    CHECK(findings.slow_link_count() == 1);
    CHECK(findings.slow_nodes.empty());
    CHECK(findings.slow.front());
  }
  SUBCASE("intra-node links are compared with intra-node links only") {
    FabricResult result;
    result.ranks = 6;
    result.node_names = {"a", "b", "c"};
    for (const auto& round : fabric_schedule(places(3, 2))) {
      for (const auto& link : round) {
        const bool inter = link.link_class == LinkClass::inter_node;
        // Intra-node links are ten times faster; node b's is at a third.
        const double bandwidth = inter ? 10 : (link.a.node == 1 ? 33 : 100);
        result.links.push_back({link, bandwidth, 1});
      }
    }
    const auto findings = analyse_fabric(result, 0.8);
    REQUIRE(findings.slow_nodes.size() == 1);
    CHECK(findings.slow_nodes.front().node == 1);
    CHECK(findings.slow_nodes.front().link_class == LinkClass::intra_node);
    CHECK(findings.slow_link_count() == 1);
  }
  SUBCASE("nothing measured is said, not called healthy") {
    FabricResult lone;
    lone.ranks = 1;
    lone.node_names = {"n1"};
    const auto findings = analyse_fabric(lone, 0.8);
    const auto text = fabric_text(lone, findings, brix::util::Style{});
    CHECK(text.find("no links measured") != std::string::npos);
    CHECK(text.find("healthy") == std::string::npos);
  }
  SUBCASE("the threshold is a fraction") {
    CHECK_THROWS_AS((void)analyse_fabric(fake_fabric(3, 1, -1, 1), 0), brix::InputError);
    CHECK_THROWS_AS((void)analyse_fabric(fake_fabric(3, 1, -1, 1), 1.5), brix::InputError);
  }
}

TEST_CASE("probe::fabric_document") {
  auto result = fake_fabric(4, 10, 1, 2);
  result.throttle = Throttle{1, 4};
  result.allreduce_busbw_gb_per_s = 7.5;
  const auto findings = analyse_fabric(result, 0.8);
  const auto doc = fabric_document(result, findings);
  CHECK(doc["healthy"] == false);
  CHECK(doc["slow_nodes"][0]["node"] == "n2");
  SUBCASE("reads back the measurements, and re-analyses alike") {
    const auto back = read_fabric_result(brix::util::DocNode::load_string(doc.dump(), "f.json"));
    CHECK(back.links.size() == result.links.size());
    CHECK(back.node_names == result.node_names);
    REQUIRE(back.throttle.has_value());
    CHECK(back.throttle->node == 1);
    CHECK(back.allreduce_busbw_gb_per_s == doctest::Approx(7.5));
    CHECK(analyse_fabric(back, 0.8).slow_nodes.size() == 1);
    const auto text = fabric_text(back, analyse_fabric(back, 0.8), brix::util::Style{});
    CHECK(text.find("node n2: 3 of 3 inter-node links slow") != std::string::npos);
    CHECK(text.find("fault injected") != std::string::npos);
  }
  SUBCASE("bad content is named with its line") {
    auto bad = doc;
    bad["links"][0]["class"] = "sideways";
    CHECK_THROWS_WITH_AS(
        (void)read_fabric_result(brix::util::DocNode::load_string(bad.dump(2), "f.json")),
        doctest::Contains("f.json:"), brix::InputError);
    auto unknown = doc;
    unknown["bandwith"] = 1;
    CHECK_THROWS_AS(
        (void)read_fabric_result(brix::util::DocNode::load_string(unknown.dump(), "f.json")),
        brix::InputError);
  }
}
