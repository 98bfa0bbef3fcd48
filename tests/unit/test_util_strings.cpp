#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <doctest/doctest.h>

using namespace brix::util;

TEST_CASE("util::edit_distance") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("plan", "plan") == 0);
  CHECK(edit_distance("plna", "plan") == 2);
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("util::did_you_mean") {
  const std::vector<std::string> names{"plan", "probe", "shard", "launch"};
  CHECK(did_you_mean("plna", names) == " (did you mean 'plan'?)");
  CHECK(did_you_mean("lunch", names) == " (did you mean 'launch'?)");
  CHECK(did_you_mean("xyzzyx", names).empty());
}

TEST_CASE("util::join_or") {
  CHECK(join_or(std::vector<std::string>{}).empty());
  CHECK(join_or(std::vector<std::string>{"yaml"}) == "yaml");
  CHECK(join_or(std::vector<std::string>{"yaml", "json"}) == "yaml or json");
  CHECK(join_or(std::vector<std::string>{"text", "json", "yaml"}) == "text, json or yaml");
}

TEST_CASE("util::parse_key_values") {
  const auto items = parse_key_values("tp=8, pp=4,dp=2", "--layout");
  REQUIRE(items.size() == 3);
  CHECK(items[0].first == "tp");
  CHECK(items[1].second == "4");
  CHECK_THROWS_AS((void)parse_key_values("tp=8,tp=4", "--layout"), brix::InputError);
  CHECK_THROWS_AS((void)parse_key_values("tp", "--layout"), brix::InputError);
  CHECK(parse_key_values("  ", "--layout").empty());
  CHECK_THROWS_WITH_AS((void)parse_key_values("tp=8,,", "--layout"),
                       doctest::Contains("--layout: empty field in 'tp=8,,'"), brix::InputError);
  CHECK_THROWS_AS((void)parse_key_values("tp=8,", "--layout"), brix::InputError);
}

TEST_CASE("util::parse numbers") {
  CHECK(parse_int("42") == 42);
  CHECK_FALSE(parse_int("4x").has_value());
  CHECK_FALSE(parse_int("").has_value());
  CHECK(parse_double("1.5e3") == doctest::Approx(1500));
  CHECK_FALSE(parse_double("nan").has_value());
}

TEST_CASE("util::is_valid_utf8 and printable") {
  CHECK(is_valid_utf8("plain"));
  CHECK(is_valid_utf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82"));
  CHECK_FALSE(is_valid_utf8("\xc3"));             // truncated
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));         // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));     // surrogate
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80")); // > U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xff"));
  CHECK(printable("a\xc3" "b") == "a\\xc3b");
  CHECK(printable("tab\there") == "tab\\x09here");
  CHECK(printable("\xc3\xa9") == "\xc3\xa9");
  CHECK(is_valid_utf8(printable("\xff\xfe\xc3")));
}

TEST_CASE("util::human formats") {
  CHECK(with_thousands(1234567) == "1,234,567");
  CHECK(with_thousands(12) == "12");
  CHECK(human_count(6.71e11) == "671.0B");
  CHECK(gib(1024.0 * 1024 * 1024 * 2.5) == "2.5 GiB");
}
