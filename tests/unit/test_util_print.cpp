// util::print picks a report's rendering by --format; util::ProgressBar draws only after a
// second and erases itself.
#include <brix/util/print.hpp>
#include <brix/util/progress.hpp>

#include <support/fake_clock.hpp>

#include <doctest/doctest.h>

#include <sstream>

namespace print_test {

/// A report whose text is styled.
struct Styled {
  int value = 0;
};
nlohmann::ordered_json to_json(const Styled& report) { return {{"value", report.value}}; }
std::string to_text(const Styled& report, const brix::util::Style& style) {
  return style.bold(std::to_string(report.value)) + "\n";
}

/// A report whose text needs no style.
struct Plain {};
nlohmann::ordered_json to_json(const Plain&) { return {{"plain", true}}; }
std::string to_text(const Plain&) { return "plain\n"; }

/// A report whose YAML is another document (as a node's probe report is a cluster file).
struct OwnYaml {};
nlohmann::ordered_json to_json(const OwnYaml&) { return {{"kind", "report"}}; }
nlohmann::ordered_json yaml_document(const OwnYaml&) { return {{"kind", "cluster"}}; }
std::string to_text(const OwnYaml&) { return "own\n"; }

template <class Report>
std::string printed(const Report& report, brix::util::Format format, brix::util::Style style = {}) {
  std::ostringstream out;
  brix::util::print(report, format, out, style);
  return out.str();
}

} // namespace print_test

using brix::util::Format;
using namespace print_test;

TEST_CASE("util::print") {
  SUBCASE("text, with and without colour") {
    CHECK(printed(Styled{3}, Format::text) == "3\n");
    CHECK(printed(Styled{3}, Format::text, brix::util::Style{true}) == "\x1b[1m3\x1b[0m\n");
    CHECK(printed(Plain{}, Format::text, brix::util::Style{true}) == "plain\n");
  }
  SUBCASE("JSON and YAML of the same document") {
    CHECK(printed(Styled{3}, Format::json) == "{\n  \"value\": 3\n}\n");
    CHECK(printed(Styled{3}, Format::yaml) == "value: 3\n");
    CHECK(printed(Plain{}, Format::yaml) == "plain: true\n");
  }
  SUBCASE("a report with its own YAML document keeps to_json for JSON") {
    CHECK(printed(OwnYaml{}, Format::yaml) == "kind: cluster\n");
    CHECK(printed(OwnYaml{}, Format::json) == "{\n  \"kind\": \"report\"\n}\n");
    CHECK(printed(OwnYaml{}, Format::text) == "own\n");
  }
}

TEST_CASE("util::ProgressBar") {
  brix::test::FakeClock clock;
  std::ostringstream out;
  SUBCASE("nothing before a second, then the bar, erased by finish") {
    brix::util::ProgressBar bar(out, clock);
    clock.advance(std::chrono::milliseconds(500));
    bar.update(0.2, "searching");
    CHECK(out.str().empty());
    clock.advance(std::chrono::milliseconds(1000));
    bar.update(0.5, "searching");
    CHECK(out.str() == "\rsearching [###############               ]  50% 1.5 s");
    bar.update(1.0, "details");
    CHECK(out.str().ends_with("\rdetails   [##############################] 100% 1.5 s"));
    out.str("");
    bar.finish();
    CHECK(out.str() == "\r\x1b[K");
    bar.finish();
    CHECK(out.str() == "\r\x1b[K");
  }
  SUBCASE("a quick run leaves nothing on the terminal") {
    {
      brix::util::ProgressBar bar(out, clock);
      bar.update(1.0, "searching");
    }
    CHECK(out.str().empty());
  }
}
