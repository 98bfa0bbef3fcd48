// Fuzz target: monitor rules files (`brix monitor --rules FILE`, `brix monitor rules FILE`),
// then a few values through the rule engine.
#include "fuzz_support.hpp"

#include <brix/monitor/rules.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace brix;
  std::vector<monitor::Rule> rules;
  if (!fuzz::accepts([&] { rules = monitor::load_rules(util::DocNode::load_string(fuzz::as_text(data, size), "rules.yaml")); })) {
    return 0;
  }
  monitor::RuleEngine engine(rules);
  const monitor::Subject subject{"node01", 3, std::nullopt};
  double now = 0;
  for (const auto& rule : engine.rules()) {
    for (const double value : {rule.normal, rule.abnormal, -1e300, 0.0, 1e300}) {
      now += 1.0 + rule.for_seconds;
      (void)engine.observe(subject, rule.metric, value, now);
    }
  }
  (void)engine.entries();
  return 0;
}
