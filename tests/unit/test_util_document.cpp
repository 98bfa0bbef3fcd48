#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>

#include <doctest/doctest.h>

using brix::InputError;
using brix::util::DocNode;

namespace {
std::string error_of(auto&& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
} // namespace

TEST_CASE("util::DocNode reads YAML and JSON with lines") {
  const auto yaml = DocNode::load_string("name: x\nnodes: 4\ngpus: -8\n", "c.yaml");
  CHECK(yaml.at("nodes").as_positive_int("nodes") == 4);
  CHECK(error_of([&] { (void)yaml.at("gpus").as_positive_int("gpus"); }) ==
        "c.yaml:3: gpus must be > 0 (got -8)");
  const auto json = DocNode::load_string("{\n  \"hidden_size\": 7168,\n  \"x\": \"y\"\n}", "config.json");
  CHECK(json.at("hidden_size").as_int() == 7168);
  CHECK(error_of([&] { (void)json.at("x").as_int(); }) ==
        "config.json:3: 'y' is not an integer (expected a whole number)");
}

TEST_CASE("util::DocNode rejects unknown keys with a suggestion") {
  const auto doc = DocNode::load_string("name: x\ngpus_per_nod: 8\n", "c.yaml");
  const std::vector<std::string> allowed{"name", "gpus_per_node"};
  CHECK(error_of([&] { doc.require_known_keys(allowed, "the cluster"); }) ==
        "c.yaml:2: unknown key 'gpus_per_nod' in the cluster (did you mean 'gpus_per_node'?)");
}

TEST_CASE("util::DocNode malformed input") {
  CHECK(error_of([] { (void)DocNode::load_string("a: [1, 2\n", "bad.yaml"); }).rfind("bad.yaml:", 0) == 0);
  CHECK(error_of([] { (void)DocNode::load_file("/nonexistent/x.yaml"); }).find("cannot open") !=
        std::string::npos);
}

TEST_CASE("util::to_yaml and Table") {
  nlohmann::ordered_json doc{{"a", 1}, {"b", {1, 2}}, {"c", {{"d", "e"}}}};
  CHECK(brix::util::to_yaml(doc) == "a: 1\nb: [1, 2]\nc:\n  d: e\n");
  brix::util::Table table({"name", "n"}, {brix::util::Align::left, brix::util::Align::right});
  table.add_row({"alpha", "1"});
  table.add_row({"b", "100"});
  CHECK(table.render() == "name     n\nalpha    1\nb      100\n");
}
