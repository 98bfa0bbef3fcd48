#include <brix/monitor/clock.hpp>
#include <brix/monitor/endpoint.hpp>
#include <brix/monitor/gpu_stats.hpp>
#include <brix/monitor/job_dir.hpp>
#include <brix/monitor/job_dir_actions.hpp>
#include <brix/monitor/node_sample.hpp>
#include <brix/plan/measured.hpp>
#include <brix/monitor/process_stats.hpp>
#include <brix/monitor/prometheus.hpp>
#include <brix/monitor/view.hpp>
#include <brix/monitor/wire.hpp>
#include <brix/net/http_server.hpp>
#include <brix/net/stream_socket.hpp>
#include <brix/probe/sources.hpp>
#include <brix/util/error.hpp>

#include <support/scoped_env.hpp>
#include <support/temp_dir.hpp>
#include <support/wait_until.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace brix::monitor;

namespace {

Snapshot sample_snapshot() {
  Snapshot snapshot;
  snapshot.job = "train \"42\"";
  snapshot.time = 1000;
  snapshot.world_size = 2;
  snapshot.step = 7;
  RankView rank;
  rank.rank = 1;
  rank.node = "n1";
  rank.pid = 10;
  rank.state = "running";
  rank.step = 7;
  rank.step_seconds = 0.5;
  rank.last_report = 999;
  rank.straggler = true;
  rank.values = {{"loss", 2.5}};
  snapshot.ranks.push_back(rank);
  NodeView node;
  node.node = "n1";
  node.last_sample = 999.5;
  node.gpu_available = true;
  node.gpus.push_back(GpuFigures{0, "GPU-x", "NVIDIA H100", 97.0, 1024.0, 80000.0, 61.0, 650.5, 1, 79});
  snapshot.nodes.push_back(node);
  snapshot.stages.push_back(StageView{0, {0, 1}, 20, 0.41, 0.5});
  snapshot.event_counts["straggler"] = 1;
  return snapshot;
}
} // namespace

TEST_CASE("monitor::parse_proc_stat") {
  const std::string text = "1234 (my (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 "
                           "12345 1000000 2560 18446744073709551615";
  const auto sample = parse_proc_stat(text, 100, 4096);
  REQUIRE(sample);
  CHECK(sample->cpu_seconds == doctest::Approx(3.0));
  CHECK(sample->rss_bytes == 2560u * 4096u);
  CHECK_FALSE(parse_proc_stat("1 (x) Z 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 1 1", 100, 4096).has_value());
  CHECK_FALSE(parse_proc_stat("garbage", 100, 4096).has_value());
  // And for real: this process exists and has memory.
  const auto self = ProcProcessStats().sample(::getpid());
  REQUIRE(self);
  CHECK(self->rss_bytes > 0);
  CHECK_FALSE(ProcProcessStats().sample(0).has_value());
}

TEST_CASE("monitor::open_nvml reports unavailability instead of made-up figures") {
  const auto source = open_nvml();
  const auto readout = source->read();
  if (readout.available) {
    MESSAGE("NVML is present: " << readout.gpus.size() << " GPU(s)");
    for (const auto& gpu : readout.gpus) {
      CHECK_FALSE(gpu.uuid.empty());
    }
  } else {
    CHECK(readout.gpus.empty());
    CHECK(readout.reason.find("NVML") != std::string::npos);
  }
}

TEST_CASE("monitor::open_nvml honours BRIX_NVML_LIBRARY and reports its failure as the probe does") {
  const brix::test::TempDir dir;
  const auto missing = dir.file("libnvidia-ml.so.1"); // never created
  const brix::test::ScopedEnv chosen("BRIX_NVML_LIBRARY", missing);
  const auto readout = open_nvml()->read();
  if (readout.available) {
    // The chosen library comes first, not alone: a driver installed here answers after it.
    MESSAGE("a system NVML answered after the missing " << missing);
    return;
  }
  const std::string prefix = "NVML not available (no NVIDIA driver): ";
  REQUIRE(readout.reason.starts_with(prefix));
  const auto loader_message = readout.reason.substr(prefix.size());
  CHECK(loader_message.find(missing) != std::string::npos); // the chosen library was tried first
  const auto scan = brix::probe::make_system_gpu_driver()->scan();
  std::string probe_text = scan.status;
  for (const auto& warning : scan.warnings) {
    probe_text += "\n" + warning;
  }
  CHECK_MESSAGE(probe_text.find("NVML: " + loader_message) != std::string::npos, probe_text);
}

TEST_CASE("monitor::render_prometheus") {
  const auto text = render_prometheus(sample_snapshot(), 1001);
  CHECK(text.find("# TYPE brix_step_seconds gauge\nbrix_step_seconds{brix_job=\"train \\\"42\\\"\",node=\"n1\",rank=\"1\"} 0.5\n") != std::string::npos);
  CHECK(text.find("brix_heartbeat_age_seconds{brix_job=\"train \\\"42\\\"\",node=\"n1\",rank=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("brix_rank_state{brix_job=\"train \\\"42\\\"\",node=\"n1\",rank=\"1\",state=\"running\"} 1") != std::string::npos);
  CHECK(text.find("brix_rank_state{brix_job=\"train \\\"42\\\"\",node=\"n1\",rank=\"1\",state=\"stale\"} 0") != std::string::npos);
  CHECK(text.find("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-x\",device=\"nvidia0\",modelName=\"NVIDIA H100\",Hostname=\"n1\"") != std::string::npos);
  CHECK(text.find("DCGM_FI_DEV_XID_ERRORS{") != std::string::npos);
  CHECK(text.find("brix_straggler{") != std::string::npos);
  CHECK(text.find("brix_rank_value{brix_job=\"train \\\"42\\\"\",node=\"n1\",rank=\"1\",name=\"loss\"} 2.5") != std::string::npos);
  CHECK(text.find("# TYPE brix_events_total counter") != std::string::npos);
  // Families without samples are left out (no rules in this snapshot).
  CHECK(text.find("brix_rule_state") == std::string::npos);
  CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
}

TEST_CASE("monitor::measured stage times round-trip - errors name the line") {
  const brix::test::TempDir dir;
  const auto path = dir.file("measured.yaml");
  write_measured_stages(path, sample_snapshot());
  const auto measured = brix::plan::read_measured_stages(path);
  REQUIRE(measured.stages.size() == 1);
  CHECK(measured.stages[0].compute_seconds == doctest::Approx(0.41));
  CHECK(measured.stages[0].ranks == std::vector<int>{0, 1});
  CHECK(measured.world_size == 2);
  Snapshot empty;
  CHECK_THROWS_AS(write_measured_stages(path, empty), brix::JobError);
  {
    std::ofstream bad(path);
    bad << "brix_measured: 1\nstages:\n  - {stage: 0, compute_seconds: -1, step_seconds: 1}\n";
  }
  CHECK_THROWS_WITH_AS((void)brix::plan::read_measured_stages(path), doctest::Contains("measured.yaml:3:"), brix::InputError);
}

TEST_CASE("monitor::wire hello and tokens") {
  const Hello hello{PeerRole::view, "viewer", "abc123"};
  const auto parsed = parse_hello(hello_line(hello));
  REQUIRE(parsed);
  CHECK(parsed->role == PeerRole::view);
  CHECK(parsed->token == "abc123");
  CHECK_FALSE(parse_hello("GET / HTTP/1.1").has_value());
  CHECK(token_matches("abc123", "abc123"));
  CHECK_FALSE(token_matches("abc124", "abc123"));
  CHECK_FALSE(token_matches("abc12", "abc123"));
  CHECK_FALSE(token_matches("", ""));
  CHECK(snapshot_request("SNAPSHOT") == 0);
  CHECK(snapshot_request("SNAPSHOT 64") == 64);
  CHECK(snapshot_request(snapshot_request_line(5)) == 5);
  CHECK(snapshot_request(snapshot_request_line(0)) == 0);
  CHECK_FALSE(snapshot_request("SNAPSHOT -1").has_value());
  CHECK_FALSE(snapshot_request("SNAPSHOT many").has_value());
  CHECK_FALSE(snapshot_request("SNAPSHOTS").has_value());
  CHECK(generate_token().size() == 32);
  CHECK(generate_token() != generate_token());
}

TEST_CASE("monitor::MonitorEndpoint over real TCP: viewers with the token get snapshots, others are refused and logged") {
  const brix::test::TempDir dir;
  SystemClock clock;
  EndpointOptions options;
  options.job_dir = dir.path().string();
  options.token = "secret-token";
  options.interval = 0.1;
  options.monitor.job = "tcp-test";
  MonitorEndpoint endpoint(options, clock);
  endpoint.start();
  const brix::net::HostPort address{"127.0.0.1", endpoint.port()};
  CHECK_THROWS_WITH_AS((void)connect_monitor(address, Hello{PeerRole::view, "intruder", "wrong"}, 2000),
                       doctest::Contains("refused us: DENIED wrong job token"), brix::JobError);
  auto viewer = connect_monitor(address, Hello{PeerRole::view, "viewer", "secret-token"}, 2000);
  REQUIRE(viewer.send_line("SNAPSHOT"));
  const auto line = viewer.read_line(2000);
  REQUIRE(line);
  const auto snapshot = snapshot_from_json(nlohmann::json::parse(*line), "endpoint");
  CHECK(snapshot.job == "tcp-test");
  bool refused_logged = false;
  for (const auto& event : snapshot.events) {
    refused_logged = refused_logged || (event.type == "auth_refused" && event.details["claimed_name"] == "intruder");
  }
  CHECK(refused_logged);

  // A node's three ranks; `SNAPSHOT 1` lists the worst one and counts all three.
  auto node = connect_monitor(address, Hello{PeerRole::node, "n0", "secret-token"}, 2000);
  NodeSample sample;
  sample.node = "n0";
  sample.time = clock.now();
  for (int rank = 0; rank < 3; ++rank) {
    RankSample state;
    state.rank = rank;
    state.pid = 100 + rank;
    state.step = 1;
    state.last_report = clock.now();
    sample.ranks.push_back(state);
  }
  REQUIRE(node.send_line(to_json(sample).dump()));
  auto fetch = [&](int max_ranks) {
    REQUIRE(viewer.send_line(snapshot_request_line(max_ranks)));
    const auto reply = viewer.read_line(2000);
    REQUIRE(reply);
    return snapshot_from_json(nlohmann::json::parse(*reply), "endpoint");
  };
  REQUIRE(brix::test::wait_until([&] { return fetch(0).ranks.size() == 3; }));
  const auto summarised = fetch(1);
  CHECK(summarised.ranks.size() == 1);
  CHECK(summarised.rank_summary.ranks == 3);
  const auto text = render_text(summarised, clock.now(), ViewOptions{});
  CHECK(text.find("3 ranks on 1 nodes") != std::string::npos);
  CHECK(text.find("... 2 more ranks") != std::string::npos);
  endpoint.stop();
  CHECK(read_snapshot_file(JobDirLayout(dir.path().string()).snapshot()).job == "tcp-test");
}

TEST_CASE("net::LineStream holds at most max_line + 1 bytes, whatever the peer sends") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  brix::net::LineStream stream(fds[0], 4096);
  const brix::net::LineStream peer(fds[1]); // owns and closes the other end
  // A short line, then a flood: the flood stays in the socket until the line is taken.
  const std::string flood = "hello\n" + std::string(100'000, 'x');
  REQUIRE(::send(fds[1], flood.data(), flood.size(), MSG_DONTWAIT) > 8192);
  stream.fill();
  CHECK(stream.buffered() <= 4097);
  CHECK(stream.next_buffered_line() == std::optional<std::string>("hello"));
  // Then the flood is one line longer than allowed: refused, never buffered whole.
  stream.fill();
  CHECK(stream.closed());
  CHECK(stream.buffered() <= 4097);
}

TEST_CASE("monitor::MonitorEndpoint reads one short line from a peer before its token") {
  const brix::test::TempDir dir;
  SystemClock clock;
  EndpointOptions options;
  options.job_dir = dir.path().string();
  options.token = "secret-token";
  options.interval = 0.1;
  MonitorEndpoint endpoint(options, clock);
  endpoint.start();
  // 8 MiB without a newline: the endpoint closes the connection at its hello limit.
  brix::net::LineStream intruder(brix::net::connect_tcp("127.0.0.1", endpoint.port(), 2000));
  const std::string junk(1 << 20, 'x');
  std::size_t sent = 0;
  for (int i = 0; i < 8 && !intruder.closed(); ++i) {
    const auto n = ::send(intruder.fd(), junk.data(), junk.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      break; // closed by the endpoint: what the test waits for
    }
    sent += static_cast<std::size_t>(n);
  }
  CHECK_FALSE(intruder.read_line(5000)); // closed, no answer to a line never finished
  CHECK(intruder.closed());
  // A client with the token still gets in.
  auto viewer = connect_monitor({"127.0.0.1", endpoint.port()}, Hello{PeerRole::view, "viewer", "secret-token"}, 2000);
  REQUIRE(viewer.send_line("SNAPSHOT"));
  CHECK(viewer.read_line(5000));
  endpoint.stop();
}

TEST_CASE("net::HttpServer serves GET and HEAD, refuses other methods") {
  brix::net::HttpServer server("127.0.0.1", 0, [](const brix::net::HttpRequest& request) {
    if (request.path == "/metrics") {
      return brix::net::HttpResponse{200, "text/plain; version=0.0.4", "up 1\n"};
    }
    return brix::net::HttpResponse{404, "text/plain", "no\n"};
  });
  server.start();
  auto request = [&](const std::string& text) {
    brix::net::LineStream stream(brix::net::connect_tcp("127.0.0.1", server.port(), 2000));
    REQUIRE(stream.send_line(text));
    std::string response;
    while (auto line = stream.read_line(2000)) {
      response += *line + "\n";
    }
    return response;
  };
  const auto ok = request("GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r");
  CHECK(ok.rfind("HTTP/1.1 200 OK\n", 0) == 0);
  CHECK(ok.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(ok.find("Content-Length: 5") != std::string::npos);
  CHECK(ok.find("\nup 1\n") != std::string::npos);
  CHECK(request("HEAD /metrics HTTP/1.1\r\n\r").find("up 1") == std::string::npos);
  CHECK(request("GET /nope HTTP/1.1\r\n\r").rfind("HTTP/1.1 404", 0) == 0);
  CHECK(request("POST /metrics HTTP/1.1\r\n\r").rfind("HTTP/1.1 405", 0) == 0);
  CHECK(request("nonsense\r\n\r").rfind("HTTP/1.1 400", 0) == 0);
  server.stop();
}

TEST_CASE("net::HttpServer serves every client at once, and slow ones hold only their own connection") {
  brix::net::HttpLimits limits;
  limits.head_timeout = std::chrono::milliseconds(3000);
  limits.max_head_bytes = 1024;
  brix::net::HttpServer server("127.0.0.1", 0, [](const brix::net::HttpRequest&) { return brix::net::HttpResponse{200, "text/plain", "up 1\n"}; },
                               limits);
  server.start();
  auto connect = [&] { return brix::net::LineStream(brix::net::connect_tcp("127.0.0.1", server.port(), 2000)); };
  // 100 clients that start a request and never finish it. Served one at a time (as before),
  // each would hold the server for its whole timeout before the next was read.
  std::vector<brix::net::LineStream> idle;
  for (int i = 0; i < 100; ++i) {
    idle.push_back(connect());
    REQUIRE(::send(idle.back().fd(), "GET /met", 8, MSG_NOSIGNAL) == 8);
  }
  CHECK(brix::test::wait_until([&] { return server.clients() == 100; }));
  auto scrape = connect();
  REQUIRE(scrape.send_line("GET /metrics HTTP/1.1\r\n\r"));
  const auto status = scrape.read_line(5000); // answered while the 100 are still connected
  REQUIRE(status);
  CHECK(*status == "HTTP/1.1 200 OK");
  // Each slow client is closed when its own head timeout passes.
  CHECK(brix::test::wait_until([&] { return server.clients() == 0; }));
  CHECK_FALSE(idle.front().read_line(2000));
  CHECK(idle.front().closed());
  // A head larger than the limit is answered 431 and closed, never buffered further.
  auto large = connect();
  REQUIRE(large.send_line("GET /metrics HTTP/1.1\r\nX-Padding: " + std::string(2048, 'x')));
  const auto refused = large.read_line(5000);
  REQUIRE(refused);
  CHECK(refused->rfind("HTTP/1.1 431", 0) == 0);
  server.stop();
}

TEST_CASE("net::HttpServer drops its oldest connection when full") {
  brix::net::HttpLimits limits;
  limits.max_clients = 3;
  brix::net::HttpServer server("127.0.0.1", 0, [](const brix::net::HttpRequest&) { return brix::net::HttpResponse{}; }, limits);
  server.start();
  std::vector<brix::net::LineStream> idle;
  for (int i = 0; i < 3; ++i) {
    idle.emplace_back(brix::net::connect_tcp("127.0.0.1", server.port(), 2000));
    CHECK(brix::test::wait_until([&] { return server.clients() == idle.size(); }));
  }
  idle.emplace_back(brix::net::connect_tcp("127.0.0.1", server.port(), 2000));
  CHECK_FALSE(idle.front().read_line(5000)); // closed to make room
  CHECK(idle.front().closed());
  CHECK(server.clients() == 3);
  server.stop();
}

TEST_CASE("monitor::JobDirActions: events, real hooks and the suspect list for recover") {
  const brix::test::TempDir temp;
  const auto dir = temp.path().string();
  {
    JobDirActions actions(dir);
    actions.event(Event{5, "threshold", "n2", 3, "rule x"});
    actions.hook("echo \"$BRIX_RULE $BRIX_STATE\" > \"$OUT_FILE\"",
                 {{"BRIX_RULE", "inter_node_latency"}, {"BRIX_STATE", "abnormal"}, {"OUT_FILE", temp.file("hook.out")}});
    actions.suspect("n2", "rule inter_node_latency abnormal on rank 3", 6);
    actions.suspect("n2", "again", 7); // once per node
  }
  std::string text;
  CHECK(brix::test::wait_until([&] { // the hook runs asynchronously: wait for its whole line
    std::ifstream in(temp.file("hook.out"));
    return std::getline(in, text) && !in.eof();
  }));
  CHECK(text == "inter_node_latency abnormal");
  const auto events = read_events(JobDirLayout(dir).event_log());
  REQUIRE(events.size() == 1);
  CHECK(events[0].node == "n2");
  const auto suspects = read_suspect_nodes(dir);
  REQUIRE(suspects.size() == 1);
  CHECK(suspects[0].node == "n2");
  CHECK(suspects[0].reason.find("inter_node_latency") != std::string::npos);
  // A second writer (a restarted endpoint) keeps the earlier suspects.
  {
    JobDirActions again(dir);
    again.suspect("n5", "xid", 8);
  }
  CHECK(read_suspect_nodes(dir).size() == 2);
}
