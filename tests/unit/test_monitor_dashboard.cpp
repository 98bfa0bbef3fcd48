// The dashboard's routes, token rule, JSON and throughput history; the Grafana dashboard's queries
// against the exposition brix serves; request parsing of the HTTP server.
#include <brix/monitor/dashboard.hpp>
#include <brix/monitor/grafana.hpp>
#include <brix/monitor/prometheus.hpp>

#include <support/fake_clock.hpp>

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace brix::monitor;

namespace {

/// A snapshot with every kind of series the exposition writes: ranks with steps, a straggler,
/// values, a node with a GPU, a rule, a stage, events and a periodic slowdown.
Snapshot rich_snapshot(double time, std::int64_t step) {
  Snapshot snapshot;
  snapshot.job = "job-7";
  snapshot.time = time;
  snapshot.world_size = 2;
  snapshot.step = step;
  snapshot.step_median_seconds = 0.5;
  snapshot.periodic_slowdown_seconds = 60;
  snapshot.periodic_slowdown_node = "n1";
  for (int r = 0; r < 2; ++r) {
    RankView rank;
    rank.rank = r;
    rank.node = "n1";
    rank.pid = 100 + r;
    rank.stage = r;
    rank.state = "running";
    rank.step = step;
    rank.step_seconds = 0.5;
    rank.compute_seconds = r == 1 ? 0.8 : 0.4;
    rank.last_report = time;
    rank.rss_bytes = 1000;
    rank.straggler = r == 1;
    rank.straggler_reason = r == 1 ? "peers" : "";
    rank.values = {{"loss", 2.0}, {"tokens", 4096}};
    rank.recent = {{step - 1, 0.5, r == 1 ? 0.8 : 0.4}, {step, 0.5, r == 1 ? 0.8 : 0.4}};
    snapshot.ranks.push_back(rank);
  }
  NodeView node;
  node.node = "n1";
  node.last_sample = time;
  node.gpu_available = true;
  GpuFigures gpu;
  gpu.uuid = "GPU-1";
  gpu.name = "H100";
  gpu.utilization_percent = 90;
  gpu.memory_used_mib = 1000;
  gpu.memory_free_mib = 80000;
  gpu.temperature_c = 60;
  gpu.power_w = 500;
  gpu.xid_count = 1;
  gpu.last_xid = 79;
  node.gpus.push_back(gpu);
  node.suspect = true;
  node.suspect_reason = "rule x";
  snapshot.nodes.push_back(node);
  snapshot.rules.push_back({"slow_steps", "step_seconds", "rank 1 on n1", "n1", 1, std::nullopt, "abnormal", 0.8, time - 5});
  snapshot.stages.push_back({0, {0}, 10, 0.4, 0.5});
  snapshot.event_counts["straggler"] = 1;
  return snapshot;
}

brix::net::HttpRequest request(const std::string& head) {
  const auto parsed = brix::net::parse_request_head(head);
  REQUIRE(parsed);
  return *parsed;
}

} // namespace

TEST_CASE("net::parse_request_head: method, path, query and headers") {
  const auto r = request("GET /api/snapshot?token=a%2Fb+c&x=1 HTTP/1.1\r\nHost: h\r\nAuthorization:  Bearer xyz \r\n\r\n");
  CHECK(r.method == "GET");
  CHECK(r.path == "/api/snapshot");
  CHECK(r.query == "token=a%2Fb+c&x=1");
  CHECK(r.query_value("token") == "a/b c");
  CHECK(r.query_value("x") == "1");
  CHECK_FALSE(r.query_value("y"));
  CHECK(r.header("authorization") == "Bearer xyz");
  CHECK(r.header("host") == "h");
  CHECK_FALSE(brix::net::parse_request_head("nonsense\r\n\r\n"));
}

TEST_CASE("monitor::ThroughputHistory: steps per second between snapshots, tokens from the ranks, restarts start over") {
  ThroughputHistory history;
  history.add(rich_snapshot(100, 10));
  CHECK(history.points().empty()); // one snapshot is no pace yet
  history.add(rich_snapshot(110, 30));
  REQUIRE(history.points().size() == 1);
  CHECK(history.points()[0].steps_per_s == doctest::Approx(2.0));
  CHECK(history.points()[0].tokens_per_s == doctest::Approx(2.0 * 4096));
  history.add(rich_snapshot(112, 30)); // no new step, not stalled yet: nothing drawn
  CHECK(history.points().size() == 1);
  history.add(rich_snapshot(200, 30)); // no step for 90 s: stalled
  REQUIRE(history.points().size() == 2);
  CHECK(history.points()[1].steps_per_s == 0);
  history.add(rich_snapshot(210, 2)); // steps went back: the workers restarted
  CHECK(history.points().empty());
}

TEST_CASE("monitor::Dashboard routes: page, JSON, metrics; the token beyond loopback") {
  brix::test::FakeWallClock clock(1000);
  double time = 990;
  std::int64_t step = 5;
  auto fetch = [&] { return rich_snapshot(time, step); };
  SUBCASE("loopback: no token needed") {
    Dashboard dashboard(fetch, render_prometheus, clock, {false, "secret", 2});
    const auto page = dashboard.handle(request("GET / HTTP/1.1\r\n\r\n"));
    CHECK(page.status == 200);
    CHECK(page.content_type == "text/html; charset=utf-8");
    CHECK(page.body.find("<!DOCTYPE html>") == 0);
    CHECK(page.body.find("id=\"initial-data\"") != std::string::npos);
    CHECK(page.body.find("const REFRESH_MS = 2000;") != std::string::npos);
    CHECK(page.body.find("src=") == std::string::npos); // nothing loaded from anywhere
    const auto json = dashboard.handle(request("GET /api/snapshot HTTP/1.1\r\n\r\n"));
    CHECK(json.status == 200);
    const auto document = nlohmann::json::parse(json.body);
    CHECK(document["snapshot"]["job"]["name"] == "job-7");
    CHECK(document["snapshot"]["ranks"][1]["straggler"] == true);
    CHECK(document["snapshot"]["ranks"][1]["recent_steps"][1][2] == 0.8);
    CHECK(document["now"] == 1000.0);
    time = 1000;
    step = 25;
    const auto later = nlohmann::json::parse(dashboard.handle(request("GET /api/snapshot HTTP/1.1\r\n\r\n")).body);
    REQUIRE(later["throughput"].size() == 1);
    CHECK(later["throughput"][0][2] == doctest::Approx(2.0));
    CHECK(dashboard.handle(request("GET /metrics HTTP/1.1\r\n\r\n")).body.find("brix_straggler{") != std::string::npos);
    CHECK(dashboard.handle(request("GET /other HTTP/1.1\r\n\r\n")).status == 404);
  }
  SUBCASE("beyond loopback: everything but /metrics needs the token") {
    Dashboard dashboard(fetch, render_prometheus, clock, {true, "secret", 2});
    CHECK(dashboard.handle(request("GET / HTTP/1.1\r\n\r\n")).status == 401);
    CHECK(dashboard.handle(request("GET /api/snapshot?token=wrong HTTP/1.1\r\n\r\n")).status == 401);
    CHECK(dashboard.handle(request("GET /metrics HTTP/1.1\r\n\r\n")).status == 200);
    const auto page = dashboard.handle(request("GET /?token=secret HTTP/1.1\r\n\r\n"));
    CHECK(page.status == 200);
    bool cookie = false;
    for (const auto& [name, value] : page.headers) {
      cookie = cookie || (name == "Set-Cookie" && value.rfind("brix_token=secret;", 0) == 0);
    }
    CHECK(cookie);
    CHECK(dashboard.handle(request("GET /api/snapshot HTTP/1.1\r\nAuthorization: Bearer secret\r\n\r\n")).status == 200);
    CHECK(dashboard.handle(request("GET /api/snapshot HTTP/1.1\r\nCookie: a=b; brix_token=secret\r\n\r\n")).status == 200);
  }
  CHECK(is_loopback_host("127.0.0.1"));
  CHECK(is_loopback_host("localhost"));
  CHECK(is_loopback_host("::1"));
  CHECK_FALSE(is_loopback_host("0.0.0.0"));
  CHECK_FALSE(is_loopback_host("10.1.2.3"));
}

TEST_CASE("monitor::dashboard_page keeps the embedded JSON inside its script element") {
  Snapshot snapshot = rich_snapshot(1, 1);
  snapshot.job = "</script><script>alert(1)</script>";
  const auto page = dashboard_page(dashboard_json(snapshot, ThroughputHistory(), 2), 1);
  CHECK(page.find("</script><script>alert(1)") == std::string::npos);
  CHECK(page.find("<\\/script><script>alert(1)<\\/script>") != std::string::npos);
}

TEST_CASE("monitor::grafana_dashboard: every query reads metrics the exposition serves") {
  const auto dashboard = grafana_dashboard();
  CHECK(dashboard["schemaVersion"] == 39);
  CHECK(dashboard["templating"]["list"][0]["type"] == "datasource");
  // What /metrics actually writes for a snapshot with every kind of series.
  const auto exposition = render_prometheus(rich_snapshot(1000, 10), 1001);
  std::set<std::string> served;
  for (const auto& family : metric_families()) {
    if (exposition.find("\n" + std::string(family.name) + "{") != std::string::npos ||
        exposition.find("\n" + std::string(family.name) + " ") != std::string::npos) {
      served.insert(std::string(family.name));
    }
  }
  const auto queries = grafana_queries(dashboard);
  CHECK(queries.size() >= 20);
  std::set<std::string> used;
  for (const auto& query : queries) {
    CAPTURE(query);
    const auto names = metric_names_in(query);
    CHECK_FALSE(names.empty());
    for (const auto& name : names) {
      CAPTURE(name);
      CHECK(served.contains(name));
      used.insert(name);
    }
  }
  for (const char* wanted : {"brix_step_compute_seconds", "brix_straggler", "brix_job_step", "DCGM_FI_DEV_GPU_UTIL",
                             "DCGM_FI_DEV_GPU_TEMP", "brix_rule_state", "brix_node_heartbeat_age_seconds"}) {
    CHECK(used.contains(wanted));
  }
  for (const auto& panel : dashboard["panels"]) {
    if (panel["type"] != "row") {
      CHECK(panel["datasource"]["uid"] == "${datasource}");
    }
  }
  CHECK(metric_names_in(R"(sum by (brix_job) (rate(brix_job_step{brix_job=~"$job"}[$__rate_interval])) * on (brix_job) )"
                        R"(max by (brix_job) (brix_rank_value{name="tokens"}))") ==
        std::vector<std::string>{"brix_job_step", "brix_rank_value"});
}
