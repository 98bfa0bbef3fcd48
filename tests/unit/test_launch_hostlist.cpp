#include <brix/launch/hostlist.hpp>
#include <brix/util/error.hpp>

#include <doctest/doctest.h>

using namespace brix::launch;
using Names = std::vector<std::string>;

TEST_CASE("launch::expand_hostlist") {
  // The vectors of formats-and-conventions.md.
  CHECK(expand_hostlist("foo[0-4]-eth2") ==
        Names{"foo0-eth2", "foo1-eth2", "foo2-eth2", "foo3-eth2", "foo4-eth2"});
  CHECK(expand_hostlist("n[00-2]") == Names{"n00", "n01", "n02"});
  CHECK(expand_hostlist("n[005,4,11-13]") == Names{"n005", "n004", "n011", "n012", "n013"});
  CHECK(expand_hostlist("foo[1,1,2]") == Names{"foo1", "foo1", "foo2"});
  CHECK(expand_hostlist("a[1-2],b3") == Names{"a1", "a2", "b3"});
  SUBCASE("plain names and several brackets") {
    CHECK(expand_hostlist("login") == Names{"login"});
    CHECK(expand_hostlist("r[1-2]n[1-2]") == Names{"r1n1", "r1n2", "r2n1", "r2n2"});
    CHECK(expand_hostlist("n[8-10]") == Names{"n8", "n9", "n10"});
  }
  SUBCASE("malformed") {
    CHECK_THROWS_AS((void)expand_hostlist("n[1-2"), brix::InputError);
    CHECK_THROWS_AS((void)expand_hostlist("n1-2]"), brix::InputError);
    CHECK_THROWS_AS((void)expand_hostlist("n[3-1]"), brix::InputError);
    CHECK_THROWS_AS((void)expand_hostlist("n[a-b]"), brix::InputError);
    CHECK_THROWS_AS((void)expand_hostlist(""), brix::InputError);
    CHECK_THROWS_AS((void)expand_hostlist("a,,b"), brix::InputError);
  }
  SUBCASE("sizes are bounded before anything is expanded") {
    // Each range alone is allowed; their product (10^10 names) is refused at once, not after
    // gigabytes of names.
    CHECK_THROWS_WITH_AS((void)expand_hostlist("n[0-99999]x[0-99999]"),
                         doctest::Contains("more than 100000 hosts"), brix::InputError);
    CHECK_THROWS_WITH_AS((void)expand_hostlist("a[0-60000],b[0-60000]"),
                         doctest::Contains("more than 100000 hosts"), brix::InputError);
    CHECK(expand_hostlist("n[1-100000]").size() == 100'000);
    // An id too long for a 64-bit number is an input error, not an internal one.
    CHECK_THROWS_WITH_AS((void)expand_hostlist("n[0-9999999999999999999]"),
                         doctest::Contains("more than 18 digits"), brix::InputError);
    // Names are printable ASCII: a stray byte is named, escaped.
    CHECK_THROWS_WITH_AS((void)expand_hostlist("n1,n\xc3"), doctest::Contains("byte \\xc3 is not allowed in a host name"),
                         brix::InputError);
  }
}

TEST_CASE("launch::compress_hostlist") {
  CHECK(compress_hostlist({"foo0-eth2", "foo1-eth2", "foo2-eth2", "foo3-eth2", "foo4-eth2"}) ==
        "foo[0-4]-eth2");
  CHECK(compress_hostlist({"n00", "n01", "n02"}) == "n[00-02]");
  CHECK(compress_hostlist({"a1", "a2", "b3"}) == "a[1-2],b3");
  CHECK(compress_hostlist({"n1", "n3", "n4", "n5", "login"}) == "n[1,3-5],login");
  CHECK(compress_hostlist({"n8", "n9", "n10"}) == "n[8-10]");
  CHECK(compress_hostlist({"solo"}) == "solo");
  CHECK(compress_hostlist({}).empty());
  SUBCASE("round trips") {
    for (const auto* text : {"foo[0-4]-eth2", "n[00-2]", "n[005,4,11-13]", "foo[1,1,2]",
                             "a[1-2],b3", "r[1-2]n[1-2]", "x[098-101],y7"}) {
      const auto hosts = expand_hostlist(text);
      CHECK(expand_hostlist(compress_hostlist(hosts)) == hosts);
    }
  }
}

TEST_CASE("launch::expand_tasks_per_node") {
  CHECK(expand_tasks_per_node("2(x3),1") == std::vector<int>{2, 2, 2, 1});
  CHECK(expand_tasks_per_node("8") == std::vector<int>{8});
  CHECK_THROWS_AS((void)expand_tasks_per_node("2(3)"), brix::InputError);
  CHECK_THROWS_AS((void)expand_tasks_per_node("x"), brix::InputError);
  CHECK_THROWS_AS((void)expand_tasks_per_node("0"), brix::InputError);
  CHECK_THROWS_AS((void)expand_tasks_per_node("2(x99999999999)"), brix::InputError);
  CHECK_THROWS_AS((void)expand_tasks_per_node("1(x60000),1(x60000)"), brix::InputError);
}
