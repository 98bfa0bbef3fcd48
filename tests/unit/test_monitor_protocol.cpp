#include <brix/monitor/event_log.hpp>
#include <brix/monitor/job_dir.hpp>
#include <brix/monitor/report.hpp>
#include <brix/monitor/report_protocol.hpp>
#include <brix/monitor/unix_datagram.hpp>
#include <brix/util/error.hpp>

#include <support/temp_dir.hpp>

#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace brix::monitor;

TEST_CASE("monitor::parse_report") {
  const auto parsed = parse_report("rank=3 step=120 time=0.412 compute=0.371 loss=2.31 stage=1 tokens=524288");
  REQUIRE(parsed.report);
  const auto& report = *parsed.report;
  CHECK(report.rank == 3);
  CHECK(report.step == 120);
  CHECK(*report.step_seconds == doctest::Approx(0.412));
  CHECK(*report.compute_seconds == doctest::Approx(0.371));
  CHECK(report.stage == 1);
  REQUIRE(report.values.size() == 2);
  CHECK(report.values[0].first == "loss");
  CHECK(report.values[1].second == doctest::Approx(524288));
  CHECK(parse_report(format_report(report)).report->values.size() == 2);
  CHECK(parse_report("rank=1").report->is_heartbeat());
  CHECK(parse_report("step=1 time=2").error == "no rank= field");
  CHECK(parse_report("rank=1 step=x").error.find("not a non-negative integer") != std::string::npos);
  CHECK(parse_report("rank=1 loss=nan").error.find("not a finite number") != std::string::npos);
  CHECK(parse_report("rank=1 time=-1").error.find("negative") != std::string::npos);
  CHECK(parse_report("rank=1 loss").error.find("not key=value") != std::string::npos);
  CHECK(parse_report("rank=1 1x=2").error.find("not a valid key") != std::string::npos);
  CHECK(parse_report("rank=1 a=1 a=2").error.find("given twice") != std::string::npos);
  CHECK(parse_report(std::string(5000, 'x')).error.find("longer than") != std::string::npos);
  // A byte that is not printable ASCII (here half a UTF-8 sequence) is a bad line, and the
  // reason does not quote it (it ends up in JSON snapshots).
  const auto torn = parse_report("rank=0 step=1 time=0.4 loss=1\xc3");
  CHECK_FALSE(torn.report);
  CHECK(torn.error == "byte 0xc3 is not printable ASCII");
  CHECK_FALSE(parse_report("rank=0 lo\x01ss=1").report);
  // Regression (fuzz.report_line): a rank or stage beyond an int wrapped to another rank.
  CHECK(parse_report("rank=11125644947").error.find("beyond any job") != std::string::npos);
  CHECK(parse_report("rank=1 stage=4294967296").error.find("beyond any job") != std::string::npos);
  CHECK(parse_report("rank=2147483647").report->rank == 2147483647);
  CHECK(parse_report("rank=1 step=11125644947").report->step == 11125644947);
}

TEST_CASE("monitor::Reporter sends to the collector socket - the kernel tells the pid") {
  const brix::test::TempDir dir;
  const auto path = dir.file("monitor.sock");
  ProgressReport report;
  report.step = 11;
  report.step_seconds = 0.25;
  report.values.emplace_back("loss", 1.5);
  Reporter reporter(path, 7, 2);
  REQUIRE(reporter.enabled());
  {
    DatagramReceiver receiver(path);
    CHECK(reporter.send(report));
    const auto datagram = receiver.receive(1000);
    REQUIRE(datagram);
    CHECK(datagram->pid == ::getpid());
    CHECK(datagram->text == "rank=7 step=11 time=0.25 stage=2 loss=1.5\n");
    CHECK_FALSE(receiver.receive(0).has_value());
  }
  // The collector is gone: the report is dropped and counted, never an exception.
  CHECK_FALSE(reporter.send(report));
  CHECK(reporter.dropped() == 1);
  {
    // A restarted collector (a new socket at the same path) gets the next report.
    DatagramReceiver receiver(path);
    CHECK(reporter.send(report));
    CHECK(receiver.receive(1000).has_value());
    // A full queue (net.unix.max_dgram_qlen) drops reports after a short wait instead of blocking.
    int sent = 0;
    for (int i = 0; i < 2000 && reporter.send(report); ++i) {
      ++sent;
    }
    CHECK(sent < 2000);
    CHECK(reporter.dropped() == 2);
  }
  CHECK_FALSE(Reporter().enabled());
  CHECK_THROWS_AS(DatagramReceiver(std::string(200, 'x')), brix::JobError);
}

TEST_CASE("monitor::EventLog appends and reads back - a torn last line is skipped") {
  const brix::test::TempDir dir;
  const auto path = JobDirLayout(dir.path().string()).event_log();
  {
    EventLog log(path);
    log.append(make_exit_event(10.5, "node1", 3, std::nullopt, SIGKILL));
    log.append(make_exit_event(11, "node1", 4, 1, std::nullopt));
    Event event;
    event.time = 12;
    event.type = "straggler";
    event.rank = 5;
    event.message = "rank 5 is slow";
    event.details["peer_ratio"] = 1.4;
    log.append(event);
  }
  {
    std::ofstream torn(path, std::ios::app);
    torn << R"({"time": 13, "type": "jo)";
  }
  const auto events = read_events(path);
  REQUIRE(events.size() == 3);
  CHECK(events[0].message == "rank 3 killed by SIGKILL");
  CHECK(events[0].details["signal"] == 9);
  CHECK(events[1].details["exit_code"] == 1);
  CHECK(events[2].rank == 5);
  CHECK(events[2].details["peer_ratio"] == 1.4);
  std::uint64_t offset = 0;
  CHECK(read_events_from(path, offset).size() == 3);
  CHECK(read_events_from(path, offset).empty());
  {
    std::ofstream more(path, std::ios::app);
    more << "ining\"}\nnot json\n";
  }
  CHECK_THROWS_WITH_AS((void)read_events(path), doctest::Contains(":5: malformed event"), brix::InputError);
  CHECK(read_events(dir.file("missing.jsonl")).empty());
}
