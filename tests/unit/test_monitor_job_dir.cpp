#include <brix/monitor/job_dir.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

using brix::monitor::JobDirLayout;

TEST_CASE("monitor::JobDirLayout names every file of a job directory") {
  // The names are an interface (scripts, recover, older job directories): a change shows here.
  const JobDirLayout job("/logs/job");
  CHECK(job.launch_record() == "/logs/job/launch.json");
  CHECK(job.event_log() == "/logs/job/events.jsonl");
  CHECK(job.token() == "/logs/job/token");
  CHECK(job.monitor_dir() == "/logs/job/monitor");
  CHECK(job.endpoint() == "/logs/job/monitor/endpoint");
  CHECK(job.snapshot() == "/logs/job/monitor/snapshot.json");
  CHECK(job.suspect_nodes() == "/logs/job/suspect-nodes.json");
  CHECK(job.restarts() == "/logs/job/recover-restarts.json");
  CHECK(job.attempt_dir(2) == "/logs/job/attempt_2");
  CHECK(job.stop_record(2) == "/logs/job/attempt_2/stop.json");
  CHECK(job.rank_file(2, 13, "out") == "/logs/job/attempt_2/rank_13.out");
  CHECK(job.rank_file(2, 13, "err") == "/logs/job/attempt_2/rank_13.err");
  CHECK(job.rank_file(2, 13, "error.json") == "/logs/job/attempt_2/rank_13.error.json");
  CHECK(job.recover_dir(1) == "/logs/job/recover-1");
  CHECK(job.recover_plan(1) == "/logs/job/recover-1/plan.yaml");
  CHECK(job.recover_checkpoint(1) == "/logs/job/recover-1/checkpoint");
}

TEST_CASE("monitor::JobDirLayout keeps the directory as given and cites names relative to it") {
  CHECK(JobDirLayout("job/").event_log() == "job//events.jsonl");
  CHECK(JobDirLayout::relative().stop_record(0) == "attempt_0/stop.json");
  CHECK(JobDirLayout::relative().event_log() == "events.jsonl");
  CHECK(JobDirLayout("DIR").rank_file("N", "R", "{out,err}") == "DIR/attempt_N/rank_R.{out,err}");
}

TEST_CASE("monitor::JobDirLayout::attempt_of reads an attempt folder's number") {
  CHECK(JobDirLayout::attempt_of("attempt_0") == 0);
  CHECK(JobDirLayout::attempt_of("attempt_12") == 12);
  CHECK_FALSE(JobDirLayout::attempt_of("attempt_"));
  CHECK_FALSE(JobDirLayout::attempt_of("attempt_1x"));
  CHECK_FALSE(JobDirLayout::attempt_of("launch.json"));
  CHECK_FALSE(JobDirLayout::attempt_of("recover-1"));
}

TEST_CASE("monitor::JobDirLayout is the only source of job directory names in lib/ and tools/") {
  // A string literal holding one of these names anywhere else is a second spelling to drift.
  const std::regex names(R"("[^"\n]*(launch\.json|events\.jsonl|snapshot\.json|stop\.json|suspect-nodes\.json|)"
                         R"(recover-restarts\.json|attempt_|recover-|\brank_\{|/token\b|monitor/endpoint)[^"\n]*")");
  // A key of the rendezvous store that shares a name with the endpoint file.
  const std::regex allowed(R"(const std::string key = "monitor/endpoint";)");
  const std::filesystem::path source(BRIX_TEST_SOURCE_DIR);
  std::vector<std::string> found;
  for (const auto* top : {"lib", "tools"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(source / top)) {
      const auto file = entry.path();
      if (file.extension() != ".cpp" && file.extension() != ".hpp") {
        continue;
      }
      if (file.filename().string().starts_with("job_dir.") && file.parent_path().filename() == "monitor") {
        continue;
      }
      std::ifstream in(file);
      int number = 0;
      for (std::string line; std::getline(in, line);) {
        ++number;
        const auto comment = line.find("//");
        const auto code = line.substr(0, comment == std::string::npos ? line.size() : comment);
        if (std::regex_search(code, names) && !std::regex_search(code, allowed)) {
          found.push_back(std::filesystem::relative(file, source).string() + ":" + std::to_string(number) + ": " + line);
        }
      }
    }
  }
  INFO("string literals naming job directory files outside monitor/job_dir.hpp:\n" << [&] {
    std::ostringstream out;
    for (const auto& line : found) {
      out << line << '\n';
    }
    return out.str();
  }());
  CHECK(found.empty());
}
