#include <brix/monitor/quantity.hpp>
#include <brix/monitor/rules.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

using namespace brix::monitor;
using brix::util::DocNode;

namespace {
std::string error_of(const std::string& yaml) {
  try {
    (void)load_rules(DocNode::load_string(yaml, "rules.yaml"));
  } catch (const brix::InputError& e) {
    return e.what();
  }
  return "";
}

Rule latency_rule(double for_seconds, double hysteresis) {
  Rule rule;
  rule.name = "lat";
  rule.metric = "internode_latency";
  rule.direction = Direction::higher_is_worse;
  rule.normal = 50e-6;
  rule.abnormal = 200e-6;
  rule.for_seconds = for_seconds;
  rule.hysteresis = hysteresis;
  return rule;
}
} // namespace

TEST_CASE("monitor::parse_quantity") {
  CHECK(*parse_quantity("50us") == doctest::Approx(50e-6));
  CHECK(*parse_quantity("200 \xC2\xB5s") == doctest::Approx(200e-6));
  CHECK(*parse_quantity("1e-4") == doctest::Approx(1e-4));
  CHECK(*parse_quantity("85%") == doctest::Approx(85));
  CHECK(*parse_quantity("2m") == doctest::Approx(120));
  CHECK(*parse_quantity("5ms") == doctest::Approx(5e-3));
  CHECK_FALSE(parse_quantity("fast").has_value());
  CHECK_FALSE(parse_duration("10%").has_value());
  CHECK_FALSE(parse_duration("-1s").has_value());
  CHECK(*parse_duration("30") == doctest::Approx(30));
}

TEST_CASE("monitor::default rules are the issue's table") {
  const auto rules = default_rules();
  REQUIRE(rules.size() == 4);
  CHECK(rules[0].metric == "internode_latency");
  CHECK(rules[0].direction == Direction::higher_is_worse);
  CHECK(rules[0].normal == doctest::Approx(50e-6));
  CHECK(rules[0].abnormal == doctest::Approx(200e-6));
  CHECK(rules[0].mark_suspect);
  CHECK(rules[1].normal == doctest::Approx(1e-4));
  CHECK(rules[1].abnormal == doctest::Approx(1e-3));
  CHECK(rules[2].direction == Direction::lower_is_worse);
  CHECK(rules[2].normal == doctest::Approx(85));
  CHECK(rules[2].abnormal == doctest::Approx(60));
  CHECK(rules[3].normal == doctest::Approx(15));
  CHECK(rules[3].abnormal == doctest::Approx(30));
  // The compiled-in copy is the bundled file.
  std::ifstream in(std::string(BRIX_TEST_SOURCE_DIR) + "/configs/monitor/rules.yaml");
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == default_rules_text());
}

TEST_CASE("monitor::rules file errors") {
  const std::string head = "brix_monitor_rules: 1\nrules:\n";
  CHECK(error_of(head + "  - name: a\n    metric: m\n    normal: '< 1'\n    abnormal: '> 2'\n    fro: 3s\n") ==
        "rules.yaml:7: unknown key 'fro' in a rule (did you mean 'for'?)");
  CHECK(error_of(head + "  - name: a\n    metric: m\n    normal: '< 1'\n    abnormal: '< 2'\n")
            .find("rules.yaml:6: rule 'a': normal and abnormal point the same way") == 0);
  CHECK(error_of(head + "  - name: a\n    metric: m\n    normal: '< 5'\n    abnormal: '> 2'\n")
            .find("the abnormal threshold is on the normal side") != std::string::npos);
  CHECK(error_of(head + "  - name: a\n    metric: m\n    normal: '< 1'\n    abnormal: '> 2'\n    actions: [evnt]\n") ==
        "rules.yaml:7: unknown action 'evnt' (did you mean 'event'?) (expected event, suspect or hook)");
  CHECK(error_of(head + "  - name: a\n    metric: m\n    normal: 'fast'\n    abnormal: '> 2'\n")
            .find("rules.yaml:5: normal: 'fast' is not a threshold") == 0);
  CHECK(error_of("brix_monitor_rules: 2\nrules: []\n").find("version 2 is not supported") != std::string::npos);
}

TEST_CASE("monitor::rules on a metric that can never be reported are refused at their line") {
  const std::string head = "brix_monitor_rules: 1\nrules:\n";
  auto rule_on = [&](const std::string& metric) {
    return error_of(head + "  - name: a\n    metric: " + metric + "\n    normal: '< 1'\n    abnormal: '> 2'\n");
  };
  CHECK(rule_on("gpu-utilization").find("rules.yaml:4: metric 'gpu-utilization' can never be reported") == 0);
  CHECK(rule_on("'1st_loss'").find("rules.yaml:4: metric '1st_loss' can never be reported") == 0);
  CHECK(rule_on(std::string(65, 'x')).find("can never be reported") != std::string::npos);
  CHECK(rule_on("time").find("rules.yaml:4: metric 'time' is a field of the report line, never a metric (its value is "
                             "'step_seconds')") == 0);
  CHECK(rule_on("rank").find("is a field of the report line") != std::string::npos);
  CHECK(rule_on("loss").empty());
  CHECK(rule_on("step_seconds").empty());
  CHECK(error_of(head + "  - name: ''\n    metric: loss\n    normal: '< 1'\n    abnormal: '> 2'\n")
            .find("rules.yaml:3: a rule's name is empty") == 0);
}

TEST_CASE("monitor::many rules load and are matched by metric, not one by one") {
  std::string yaml = "brix_monitor_rules: 1\nrules:\n";
  constexpr int k_rules = 20'000;
  for (int i = 0; i < k_rules; ++i) {
    yaml += "  - {name: r" + std::to_string(i) + ", metric: m" + std::to_string(i % 100) +
            ", normal: '< 1', abnormal: '> 2'}\n";
  }
  const auto rules = load_rules(DocNode::load_string(yaml, "rules.yaml"));
  REQUIRE(rules.size() == k_rules);
  RuleEngine engine(rules);
  CHECK(engine.watches("m7"));
  CHECK_FALSE(engine.watches("m100"));
  // One value of m7 reaches exactly the 200 rules on m7.
  CHECK(engine.observe({"n", 0, std::nullopt}, "m7", 5.0, 1.0).size() == k_rules / 100);
  CHECK(engine.entries().size() == k_rules / 100);
  // A name given twice is still found, with the first one's line.
  CHECK(error_of(yaml + "  - {name: r3, metric: m, normal: '< 1', abnormal: '> 2'}\n")
            .find("rule 'r3' is defined twice (first at rules.yaml:6)") != std::string::npos);
  std::string too_many = "brix_monitor_rules: 1\nrules:\n";
  for (std::size_t i = 0; i <= k_max_rules; ++i) {
    too_many += "  - x\n";
  }
  CHECK(error_of(too_many) == "rules.yaml:3: 100,001 rules (expected at most 100,000)");
}

TEST_CASE("monitor::RuleEngine waits `for` before firing, then recovers past the hysteresis") {
  RuleEngine engine({latency_rule(30, 10e-6)});
  const Subject rank3{"node1", 3, std::nullopt};
  double now = 100;
  CHECK(engine.observe(rank3, "internode_latency", 20e-6, now).empty());
  // Abnormal for 20 s: not yet.
  CHECK(engine.observe(rank3, "internode_latency", 300e-6, now += 1).empty());
  CHECK(engine.observe(rank3, "internode_latency", 300e-6, now += 20).empty());
  // Held for 30 s: fires straight to abnormal.
  auto fired = engine.observe(rank3, "internode_latency", 300e-6, now += 10);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].from == RuleState::normal);
  CHECK(fired[0].to == RuleState::abnormal);
  CHECK(fired[0].subject.rank == 3);
  // Just under the abnormal threshold but inside the hysteresis band: stays abnormal.
  CHECK(engine.observe(rank3, "internode_latency", 195e-6, now += 1).empty());
  // Past the band: warning at once; then normal once under 50 − 10 µs.
  fired = engine.observe(rank3, "internode_latency", 150e-6, now += 1);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].to == RuleState::warning);
  CHECK(engine.observe(rank3, "internode_latency", 45e-6, now += 1).empty());
  fired = engine.observe(rank3, "internode_latency", 30e-6, now += 1);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].to == RuleState::normal);
}

TEST_CASE("monitor::RuleEngine: an interruption restarts the `for` timer - subjects are separate") {
  RuleEngine engine({latency_rule(10, 0)});
  const Subject a{"n1", 0, std::nullopt};
  const Subject b{"n2", 1, std::nullopt};
  CHECK(engine.observe(a, "internode_latency", 100e-6, 0).empty());
  CHECK(engine.observe(b, "internode_latency", 100e-6, 0).empty());
  CHECK(engine.observe(a, "internode_latency", 10e-6, 5).empty());  // back to normal: timer resets
  CHECK(engine.observe(a, "internode_latency", 100e-6, 8).empty());
  CHECK(engine.observe(a, "internode_latency", 100e-6, 12).empty()); // only 4 s since 8
  const auto fired = engine.observe(b, "internode_latency", 100e-6, 12);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].to == RuleState::warning);
  CHECK(engine.observe(a, "other_metric", 1, 30).empty());
  // Warning held, then abnormal held for 10 s more.
  CHECK(engine.observe(a, "internode_latency", 100e-6, 18).size() == 1);
  CHECK(engine.observe(a, "internode_latency", 500e-6, 19).empty());
  const auto worse = engine.observe(a, "internode_latency", 500e-6, 29);
  REQUIRE(worse.size() == 1);
  CHECK(worse[0].from == RuleState::warning);
  CHECK(worse[0].to == RuleState::abnormal);
  CHECK(engine.entries().size() == 2);
}

TEST_CASE("monitor::RuleEngine lower-is-worse (utilisation)") {
  auto rules = default_rules();
  rules[2].for_seconds = 0;
  RuleEngine engine(rules);
  const Subject gpu{"n1", std::nullopt, 0};
  CHECK(engine.observe(gpu, "gpu_utilization", 95, 0).empty());
  auto fired = engine.observe(gpu, "gpu_utilization", 40, 1);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].to == RuleState::abnormal);
  CHECK(fired[0].rule == "compute_utilization");
  CHECK(engine.observe(gpu, "gpu_utilization", 62, 2).empty()); // within 5 points of 60
  fired = engine.observe(gpu, "gpu_utilization", 70, 3);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].to == RuleState::warning);
}
