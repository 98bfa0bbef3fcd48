// util::JsonWriter against nlohmann::json: the same values, the same text.
#include <brix/util/json_writer.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

using brix::util::JsonWriter;

TEST_CASE("util::JsonWriter writes what nlohmann::json dumps") {
  std::string text;
  JsonWriter out(text);
  out.begin_object().field("name", "node \"7\"\n\t\x01 é").field("ratio", 1.0).field("tiny", 1e-5);
  out.field("big", 1.5e300).field("third", 1.0 / 3).field("count", std::uint64_t{18446744073709551615ull});
  out.field("step", std::int64_t{-1}).field("flag", false).optional_field("absent", std::optional<int>());
  out.optional_field("present", std::optional<int>(3)).key("nan").value(std::nan(""));
  out.key("list").begin_array().value(1).value("two").begin_object().end_object().null().end_array();
  out.key("inner").raw(R"({"a":[1,2]})").end_object();

  nlohmann::ordered_json expected;
  expected["name"] = "node \"7\"\n\t\x01 é";
  expected["ratio"] = 1.0;
  expected["tiny"] = 1e-5;
  expected["big"] = 1.5e300;
  expected["third"] = 1.0 / 3;
  expected["count"] = std::uint64_t{18446744073709551615ull};
  expected["step"] = -1;
  expected["flag"] = false;
  expected["present"] = 3;
  expected["nan"] = nullptr;
  expected["list"] = nlohmann::ordered_json::array({1, "two", nlohmann::ordered_json::object(), nullptr});
  expected["inner"] = {{"a", {1, 2}}};
  CHECK(text == expected.dump());
  CHECK(nlohmann::ordered_json::parse(text) == expected);
}

TEST_CASE("util::JsonWriter replaces invalid UTF-8 and keeps the document parseable") {
  std::string text;
  JsonWriter out(text);
  out.begin_array().value(std::string_view("ok\xff\xc3(\xe2\x82\xac", 8)).end_array();
  CHECK(text == "[\"ok\\ufffd\\ufffd(\xe2\x82\xac\"]");
  CHECK(nlohmann::json::parse(text)[0] == "ok\xef\xbf\xbd\xef\xbf\xbd(\xe2\x82\xac");
}
