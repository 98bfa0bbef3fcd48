#include <brix/shard/rank_generator.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

using brix::shard::parse_order;
using brix::shard::RankGenerator;
using Groups = std::vector<std::vector<int>>;

namespace {

RankGenerator generator(std::string_view order, int tp, int cp, int ep, int dp, int pp) {
  return RankGenerator(parse_order(order), tp, cp, ep, dp, pp);
}

/// A second derivation, by brute force over explicit coordinates: every rank's coordinates are
/// listed, ranks that agree outside `dims` form a group; groups and members are sorted by the
/// coordinates read as numbers with the earlier dimension of `order` least significant.
Groups brute_force(const std::vector<std::string>& order, const std::map<std::string, int>& sizes,
                   const std::vector<std::string>& dims) {
  int world = 1;
  for (const auto& name : order) {
    world *= sizes.at(name);
  }
  auto coords = [&](int rank) {
    std::map<std::string, int> out;
    for (const auto& name : order) {
      out[name] = rank % sizes.at(name);
      rank /= sizes.at(name);
    }
    return out;
  };
  auto in = [&](const std::string& name) { return std::find(dims.begin(), dims.end(), name) != dims.end(); };
  auto key = [&](int rank, bool masked) {
    long value = 0;
    long scale = 1;
    const auto c = coords(rank);
    for (const auto& name : order) {
      if (in(name) == masked) {
        value += c.at(name) * scale;
        scale *= sizes.at(name);
      }
    }
    return value;
  };
  std::map<long, std::map<long, int>> groups;
  for (int rank = 0; rank < world; ++rank) {
    groups[key(rank, false)][key(rank, true)] = rank;
  }
  Groups out;
  for (const auto& [group, members] : groups) {
    out.emplace_back();
    for (const auto& [index, rank] : members) {
      out.back().push_back(rank);
    }
  }
  return out;
}

} // namespace

TEST_CASE("shard::RankGenerator reproduces Megatron-LM's documented example") {
  // parallel_state.initialize_model_parallel's docstring: 16 GPUs, tp 2, pp 4 (dp 2).
  const auto gen = generator("tp-cp-ep-dp-pp", 2, 1, 1, 2, 4);
  CHECK(gen.groups("tp") == Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}, {10, 11}, {12, 13}, {14, 15}});
  CHECK(gen.groups("dp") == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}, {8, 10}, {9, 11}, {12, 14}, {13, 15}});
  CHECK(gen.groups("pp") == Groups{{0, 4, 8, 12}, {1, 5, 9, 13}, {2, 6, 10, 14}, {3, 7, 11, 15}});
}

TEST_CASE("shard::RankGenerator groups for tp 2, cp 2, dp 2, pp 2 and the expert layout ep 4") {
  const auto dense = generator("tp-cp-ep-dp-pp", 2, 2, 1, 2, 2);
  CHECK(dense.groups("cp") == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}, {8, 10}, {9, 11}, {12, 14}, {13, 15}});
  CHECK(dense.groups("dp") == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}, {8, 12}, {9, 13}, {10, 14}, {11, 15}});
  CHECK(dense.groups("dp-cp") == Groups{{0, 2, 4, 6}, {1, 3, 5, 7}, {8, 10, 12, 14}, {9, 11, 13, 15}});
  CHECK(dense.groups("pp") == Groups{{0, 8}, {1, 9}, {2, 10}, {3, 11}, {4, 12}, {5, 13}, {6, 14}, {7, 15}});
  CHECK(dense.groups("tp-pp") == Groups{{0, 1, 8, 9}, {2, 3, 10, 11}, {4, 5, 12, 13}, {6, 7, 14, 15}});
  // Experts: etp 1, ep 4, expert-dp = 16 / (1 · 4 · 2) = 2, cp folded away.
  const auto expert = generator("tp-cp-ep-dp-pp", 1, 1, 4, 2, 2);
  CHECK(expert.groups("ep") == Groups{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}, {12, 13, 14, 15}});
  CHECK(expert.groups("dp") == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}, {8, 12}, {9, 13}, {10, 14}, {11, 15}});
  CHECK(expert.groups("pp") == dense.groups("pp"));
  CHECK(expert.coordinate(6, "ep") == 2);
  CHECK(expert.coordinate(6, "dp") == 1);
  CHECK(expert.coordinate(13, "pp") == 1);
}

TEST_CASE("shard::RankGenerator with pipeline before data (tp-pp-dp)") {
  const auto gen = generator("tp-pp-dp", 2, 1, 1, 2, 2);
  CHECK(gen.groups("pp") == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}});
  CHECK(gen.groups("dp") == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}});
  CHECK(gen.coordinate(5, "dp") == 1);
  CHECK(gen.coordinate(5, "pp") == 0);
  CHECK(gen.coordinate(6, "pp") == 1);
}

TEST_CASE("shard::RankGenerator agrees with a brute-force derivation") {
  struct Case {
    std::string order;
    int tp, cp, ep, dp, pp;
  };
  const Case cases[] = {{"tp-cp-ep-dp-pp", 8, 1, 1, 4, 4}, {"tp-cp-ep-dp-pp", 2, 2, 1, 3, 2},
                        {"tp-cp-ep-dp-pp", 1, 1, 8, 2, 3}, {"tp-cp-ep-pp-dp", 4, 1, 2, 2, 2},
                        {"pp-dp-tp", 2, 1, 1, 3, 2},        {"dp-tp-cp-ep-pp", 2, 2, 1, 2, 2}};
  for (const auto& c : cases) {
    const auto order = parse_order(c.order);
    const auto gen = RankGenerator(order, c.tp, c.cp, c.ep, c.dp, c.pp);
    std::vector<std::string> full = order;
    for (const std::string name : {"tp", "cp", "ep", "dp", "pp"}) {
      if (std::find(full.begin(), full.end(), name) == full.end()) {
        full.push_back(name);
      }
    }
    const std::map<std::string, int> sizes{{"tp", c.tp}, {"cp", c.cp}, {"ep", c.ep}, {"dp", c.dp}, {"pp", c.pp}};
    for (const std::string dims : {"tp", "cp", "ep", "dp", "pp", "dp-cp", "tp-pp", "tp-ep-pp", "tp-dp-cp"}) {
      CAPTURE(c.order);
      CAPTURE(dims);
      const auto groups = gen.groups(dims);
      CHECK(groups == brute_force(full, sizes, brix::util::split(dims, '-')));
      for (const auto& group : groups) {
        for (const int rank : group) {
          CHECK(gen.group_of(rank, dims) == group);
        }
      }
    }
  }
}

TEST_CASE("shard::parse_order errors") {
  CHECK_THROWS_WITH_AS(parse_order("tp-cq-ep-dp-pp"),
                       "--order: unknown dimension 'cq' in 'tp-cq-ep-dp-pp' (did you mean 'cp'?) "
                       "(expected names from tp, cp, ep, dp, pp joined by '-')",
                       brix::InputError);
  CHECK_THROWS_WITH_AS(parse_order("tp-dp-tp"), "--order: dimension 'tp' appears twice in 'tp-dp-tp'",
                       brix::InputError);
  CHECK_THROWS_WITH_AS(RankGenerator(parse_order("tp-dp-pp"), 2, 2, 1, 2, 1),
                       "order 'tp-dp-pp' leaves out cp of size 2 (name every dimension larger than "
                       "1, e.g. tp-cp-ep-dp-pp)",
                       brix::InputError);
}
