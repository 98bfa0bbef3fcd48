#include <brix/launch/agent_setup.hpp>
#include <brix/launch/log_pump.hpp>
#include <brix/launch/stop_record.hpp>
#include <brix/util/error.hpp>

#include <support/temp_dir.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace brix::launch;

namespace {
brix::util::EnvLookup env_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    const auto found = values.find(std::string(name));
    return found == values.end() ? std::nullopt : std::optional(found->second);
  };
}
NodeSet two_hosts() {
  NodeSet nodes;
  nodes.hosts = {"a", "b"};
  nodes.source = "--hosts";
  return nodes;
}
std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
} // namespace

TEST_CASE("launch::choose_run_id and choose_token") {
  CHECK(choose_run_id("mine", env_of({{"SLURM_JOB_ID", "7"}}), two_hosts(), 29400) == "mine");
  CHECK(choose_run_id("", env_of({{"SLURM_JOB_ID", "7"}}), two_hosts(), 29400) == "slurm-7");
  // Agents of one --hosts job agree without talking; another port is another job.
  const auto a = choose_run_id("", env_of({}), two_hosts(), 29400);
  CHECK(a == choose_run_id("", env_of({}), two_hosts(), 29400));
  CHECK(a != choose_run_id("", env_of({}), two_hosts(), 29401));
  NodeSet one;
  one.hosts = {"localhost"};
  CHECK(choose_run_id("", env_of({}), one, 0) != choose_run_id("", env_of({}), one, 0));

  CHECK(choose_token("given", env_of({{"BRIX_JOB_TOKEN", "env"}}), "r", false) == "given");
  CHECK(choose_token("", env_of({{"BRIX_JOB_TOKEN", "env"}}), "r", false) == "env");
  CHECK(choose_token("", env_of({}), "r", false) == choose_token("", env_of({}), "r", false));
  CHECK(choose_token("", env_of({}), "r", false) != choose_token("", env_of({}), "s", false));
  CHECK(choose_token("", env_of({}), "r", true) != choose_token("", env_of({}), "r", true));
  NodeSet standalone;
  standalone.hosts = {"localhost"};
  standalone.source = "single node";
  CHECK(choose_run_id("", env_of({{"SLURM_JOB_ID", "7"}}), standalone, 0) != "slurm-7");
  check_rdzv_backend("c10d");
  CHECK_THROWS_WITH_AS(check_rdzv_backend("etcd"), doctest::Contains("expected c10d"),
                       brix::InputError);
  CHECK(token_is_guessable("", env_of({}), false));
  CHECK(token_is_guessable("", env_of({{"BRIX_JOB_TOKEN", ""}}), false));
  CHECK_FALSE(token_is_guessable("", env_of({{"BRIX_JOB_TOKEN", "env"}}), false));
  CHECK_FALSE(token_is_guessable("given", env_of({}), false));
  CHECK_FALSE(token_is_guessable("", env_of({}), true)); // one node: a random token
  CHECK(random_hex().size() == 32);
  CHECK(is_loopback("127.0.0.1"));
  CHECK_FALSE(is_loopback("10.1.2.3"));
}

TEST_CASE("launch::monitor_socket_path") {
  const std::string long_id(100, 'r');
  const auto path = monitor_socket_path(long_id, 12, env_of({}));
  CHECK(path.size() <= 107); // sun_path
  CHECK(path.starts_with("/tmp/brix-monitor-"));
  CHECK(path.ends_with("-12.sock"));
  CHECK(path == monitor_socket_path(long_id, 12, env_of({})));
  CHECK(path != monitor_socket_path(long_id + "x", 12, env_of({})));
  CHECK(path != monitor_socket_path(long_id, 13, env_of({})));
  CHECK(monitor_socket_path(long_id, 0, env_of({{"TMPDIR", "/scratch/me/"}})).starts_with("/scratch/me/brix-monitor-"));
  const auto deep = "/" + std::string(90, 'd');
  CHECK(monitor_socket_path(long_id, 0, env_of({{"TMPDIR", deep}})).starts_with("/tmp/"));
}

TEST_CASE("launch::LogPump") {
  const brix::test::TempDir temp;
  const auto& dir = temp.path();
  int worker[2];
  int console[2];
  REQUIRE(::pipe(worker) == 0);
  REQUIRE(::pipe(console) == 0);
  {
    LogPump pump;
    pump.add(worker[0], (dir / "rank_3.out").string(), "[rank 3] ", console[1]);
    const std::string text = "first line\nsecond ";
    REQUIRE(::write(worker[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    const std::string rest = "half\nno newline at the end";
    REQUIRE(::write(worker[1], rest.data(), rest.size()) == static_cast<ssize_t>(rest.size()));
    ::close(worker[1]);
    pump.drain(std::chrono::seconds(5));
  }
  ::close(console[1]);
  std::string shown;
  char buffer[256];
  for (ssize_t got; (got = ::read(console[0], buffer, sizeof buffer)) > 0;) {
    shown.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(console[0]);
  CHECK(shown == "[rank 3] first line\n[rank 3] second half\n[rank 3] no newline at the end\n");
  CHECK(read(dir / "rank_3.out") == "first line\nsecond half\nno newline at the end");
}

TEST_CASE("launch::LogPump wait_eof") {
  const brix::test::TempDir temp;
  const auto log = temp.path() / "rank_1.err";
  int worker[2];
  REQUIRE(::pipe(worker) == 0);
  auto write_text = [&](const std::string& text) {
    REQUIRE(::write(worker[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  };
  LogPump pump;
  const auto id = pump.add(worker[0], log.string(), "[rank 1] ", -1);
  SUBCASE("returns once the writer closed the pipe and every byte is in the file") {
    std::thread writer([&] {
      write_text("first line\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      write_text("second line\n");
      ::close(worker[1]);
    });
    CHECK(pump.wait_eof(id, std::chrono::seconds(5)));
    CHECK(read(log) == "first line\nsecond line\n");
    writer.join();
  }
  SUBCASE("gives up after the timeout while the pipe is held open") {
    write_text("held\n");
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(pump.wait_eof(id, std::chrono::milliseconds(100)));
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(100));
    ::close(worker[1]);
    CHECK(pump.wait_eof(id, std::chrono::seconds(5)));
    CHECK(read(log) == "held\n");
  }
  pump.drain(std::chrono::seconds(1));
}

TEST_CASE("launch::failure_report times are UTC") {
  StopRecord record;
  record.kind = StopKind::failed;
  record.rank = 2;
  record.exit_code = 1;
  record.time = 1700000000.25;
  CHECK(failure_report(record, 0, 0).find("at 2023-11-14 22:13:20.250 UTC") != std::string::npos);
}
