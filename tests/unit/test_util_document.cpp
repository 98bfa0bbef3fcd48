#include <support/input_error.hpp>
#include <brix/util/document.hpp>
#include <brix/util/error.hpp>
#include <brix/util/output.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

using brix::InputError;
using brix::util::DocNode;

using brix::test::input_error_of;

TEST_CASE("util::DocNode reads YAML and JSON with lines") {
  const auto yaml = DocNode::load_string("name: x\nnodes: 4\ngpus: -8\n", "c.yaml");
  CHECK(yaml.at("nodes").as_positive_int("nodes") == 4);
  CHECK(input_error_of([&] { (void)yaml.at("gpus").as_positive_int("gpus"); }) ==
        "c.yaml:3: gpus must be > 0 (got -8)");
  const auto json = DocNode::load_string("{\n  \"hidden_size\": 7168,\n  \"x\": \"y\"\n}", "config.json");
  CHECK(json.at("hidden_size").as_int() == 7168);
  CHECK(input_error_of([&] { (void)json.at("x").as_int(); }) ==
        "config.json:3: \"y\" is a string (expected an integer, without quotes)");
  const auto plain = DocNode::load_string("nodes: 4x\n", "c.yaml");
  CHECK(input_error_of([&] { (void)plain.at("nodes").as_int(); }) ==
        "c.yaml:1: '4x' is not an integer (expected a whole number)");
}

TEST_CASE("util::DocNode refuses numbers written as strings") {
  const auto json = DocNode::load_string("{\n  \"hidden_size\": \"4096\",\n  \"rate\": '0.5'\n}", "config.json");
  CHECK(input_error_of([&] { (void)json.at("hidden_size").as_positive_int("hidden_size"); }) ==
        "config.json:2: \"4096\" is a string (expected an integer, without quotes)");
  CHECK(input_error_of([&] { (void)json.at("rate").as_double(); }) ==
        "config.json:3: \"0.5\" is a string (expected a number, without quotes)");
  CHECK(json.at("hidden_size").as_string() == "4096");
}

TEST_CASE("util::DocNode refuses a key given twice") {
  CHECK(input_error_of([] { (void)DocNode::load_string("name: x\nnodes: 4\nnodes: 8\n", "c.yaml"); }) ==
        "c.yaml:3: key 'nodes' given twice in one mapping (expected each key at most once)");
  CHECK(input_error_of([] { (void)DocNode::load_string("groups:\n  - {a: 1, a: 2}\n", "c.yaml"); })
            .starts_with("c.yaml:2: key 'a' given twice"));
  CHECK(input_error_of([] { (void)DocNode::load_string("{\"a\": 1,\n \"a\": 2}", "c.json"); })
            .starts_with("c.json:2: key 'a' given twice"));
}

TEST_CASE("util::DocNode rejects unknown keys with a suggestion") {
  const auto doc = DocNode::load_string("name: x\ngpus_per_nod: 8\n", "c.yaml");
  const std::vector<std::string> allowed{"name", "gpus_per_node"};
  CHECK(input_error_of([&] { doc.require_known_keys(allowed, "the cluster"); }) ==
        "c.yaml:2: unknown key 'gpus_per_nod' in the cluster (did you mean 'gpus_per_node'?)");
  // No close match: the valid keys are listed instead.
  const auto far = DocNode::load_string("name: x\nmemory_gib: 80\n", "c.yaml");
  CHECK(input_error_of([&] { far.require_known_keys(allowed, "the cluster"); }) ==
        "c.yaml:2: unknown key 'memory_gib' in the cluster (expected one of name, gpus_per_node)");
}

TEST_CASE("util::DocNode malformed input") {
  CHECK(input_error_of([] { (void)DocNode::load_string("", "empty.yaml"); }) ==
        "empty.yaml:1: the file is empty (expected a YAML or JSON mapping)");
  CHECK(input_error_of([] { (void)DocNode::load_string("a: [1, 2\n", "bad.yaml"); })
              .find("(expected well-formed YAML or JSON") !=
        std::string::npos);
  CHECK(input_error_of([] { (void)DocNode::load_string("a: [1, 2\n", "bad.yaml"); }).rfind("bad.yaml:", 0) == 0);
  CHECK(input_error_of([] { (void)DocNode::load_file("/nonexistent/x.yaml"); }).find("cannot open") !=
        std::string::npos);
  CHECK(input_error_of([] { (void)DocNode::load_string("a: 1\nb: \"x\xc3\"\n", "latin.yaml"); }) ==
        "latin.yaml:2: byte \\xc3 is not UTF-8 (expected a UTF-8 text file)");
}

TEST_CASE("util::DocNode bounds what aliases expand to") {
  // Nine levels of ten aliases each: 10^9 nodes from a few hundred bytes ("billion laughs").
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char level = 'b'; level <= 'j'; ++level) {
    const char previous = static_cast<char>(level - 1);
    bomb += fmt::format("{0}: &{0} [*{1}, *{1}, *{1}, *{1}, *{1}, *{1}, *{1}, *{1}, *{1}, *{1}]\n", level, previous);
  }
  CHECK(input_error_of([&] { (void)DocNode::load_string(bomb, "bomb.yaml"); }).find("more than 4000000 nodes once its aliases are expanded") !=
        std::string::npos);
  // Aliases used a sensible number of times are fine.
  CHECK(DocNode::load_string("base: &b {gpu: h100-sxm}\ngroups: [*b, *b]\n", "ok.yaml").at("groups").elements().size() == 2);
}

TEST_CASE("util::DocNode reads one document and nothing after it") {
  // YAML::Load alone would return the first document and drop the rest without a word.
  CHECK(input_error_of([] { (void)DocNode::load_string("{\"a\": 1}\ngarbage: 2\n", "config.json"); }) ==
        "config.json:2: more than one YAML document (expected one mapping; nothing after it but comments)");
  CHECK(input_error_of([] { (void)DocNode::load_string("a: 1\n---\nb: 2\n", "two.yaml"); }).rfind("two.yaml:3: more than one", 0) == 0);
  CHECK(input_error_of([] { (void)DocNode::load_string("{\"a\": 1}\nb: [1\n", "config.json"); }).find("malformed YAML/JSON") !=
        std::string::npos);
  CHECK(DocNode::load_string("{\"a\": 1}\n# a comment\n", "config.json").at("a").as_int() == 1);
}

// Regression (fuzz.model_config, cluster_file, plan_file, monitor_rules timeouts): yaml-cpp 0.7's
// LoadAll looped forever, allocating, on a token that can start no value.
TEST_CASE("util::DocNode refuses text where no value can start instead of looping") {
  const std::string expected = "(expected well-formed YAML or JSON: balanced brackets and quotes, 'key: value' pairs)";
  CHECK(input_error_of([] { (void)DocNode::load_string("{\"a\": 1}, \"b\n", "config.json"); }) ==
        "config.json:1: malformed YAML/JSON: no value can start at column 9 " + expected);
  CHECK(input_error_of([] { (void)DocNode::load_string(",nodes=4,gpus_per_node=8\n", "cluster.yaml"); }) ==
        "cluster.yaml:1: malformed YAML/JSON: no value can start at column 1 " + expected);
  CHECK(input_error_of([] { (void)DocNode::load_string("# plan\n, tp: 1\n", "plan.yaml"); }).rfind("plan.yaml:2: malformed", 0) ==
        0);
}

TEST_CASE("util::DocNode refuses control bytes") {
  CHECK(input_error_of([] { (void)DocNode::load_string(std::string("a: 1\nb: x\0y\n", 12), "nul.yaml"); }) ==
        "nul.yaml:2: control byte 0x00 in the text (expected a text file: YAML or JSON)");
  CHECK(input_error_of([] { (void)DocNode::load_string("a: 1\n# \x1b[31m\n", "esc.yaml"); }).rfind("esc.yaml:2: control byte 0x1b", 0) == 0);
  CHECK(DocNode::load_string("a: \"x\ty\"\r\nb: 2\r\n", "crlf.yaml").at("b").as_int() == 2);
}

TEST_CASE("util::to_yaml and Table") {
  nlohmann::ordered_json doc{{"a", 1}, {"b", {1, 2}}, {"c", {{"d", "e"}}}};
  CHECK(brix::util::to_yaml(doc) == "a: 1\nb: [1, 2]\nc:\n  d: e\n");
  // Strings a reader would take for numbers or booleans stay strings (Kubernetes env values).
  nlohmann::ordered_json strings{{"zero", "0"}, {"ratio", "0.90"}, {"on", "true"}, {"off", "off"},
                                 {"hca", "mlx5_0:1"}, {"number", 0}, {"empty", ""}};
  const auto yaml = brix::util::to_yaml(strings);
  CHECK(yaml == "zero: \"0\"\nratio: \"0.90\"\non: \"true\"\noff: \"off\"\nhca: mlx5_0:1\nnumber: 0\nempty: \"\"\n");
  brix::util::Table table({"name", "n"}, {brix::util::Align::left, brix::util::Align::right});
  table.add_row({"alpha", "1"});
  table.add_row({"b", "100"});
  CHECK(table.render() == "name     n\nalpha    1\nb      100\n");
}

// Regression (fuzz.model_config): a key that is a list reached readers of keys as yaml-cpp's
// TypedBadConversion, which the CLI reports as `internal:`.
TEST_CASE("util::DocNode refuses a key that is not a scalar, at its line") {
  const std::string expected = "(expected each key to be a name, as in 'hidden_size: 4096')";
  CHECK(input_error_of([] { (void)DocNode::load_string("{[a]: 1, \"model_type\": \"llama\"}\n", "config.json"); }) ==
        "config.json:1: a key that is a list, a mapping or empty " + expected);
  CHECK(input_error_of([] { (void)DocNode::load_string("a:\n  {x: 1}: 2\n", "m.yaml"); }) ==
        "m.yaml:2: a key that is a list, a mapping or empty " + expected);
  CHECK(input_error_of([] { (void)DocNode::load_string("a: 1\n? \n: 2\n", "m.yaml"); }).rfind("m.yaml:3: a key that is", 0) == 0);
}
