#include <brix/launch/job_record.hpp>

#include <brix/monitor/job_dir.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>

namespace brix::launch {
namespace {

std::optional<nlohmann::json> read_json_file(const std::string& path) {
  std::string why;
  const auto text = util::read_regular_file(path, why);
  if (!text) {
    return std::nullopt;
  }
  try {
    return nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not valid JSON ({})", path, e.what()));
  }
}

} // namespace

nlohmann::json JobRecord::to_json() const {
  auto list = nlohmann::json::array();
  for (const auto& node : nodes) {
    list.push_back(node.to_json());
  }
  return nlohmann::json{{"brix_launch", 1},       {"run_id", run_id},
                        {"slurm_job_id", slurm_job_id}, {"attempt", attempt},
                        {"max_restarts", max_restarts}, {"nodes", list},
                        {"plan", plan_path},      {"command", command},
                        {"launch_args", launch_args},
                        {"time", time}};
}

JobRecord JobRecord::from_json(const nlohmann::json& json) {
  JobRecord record;
  record.run_id = json.value("run_id", std::string());
  record.slurm_job_id = json.value("slurm_job_id", std::string());
  record.attempt = json.value("attempt", 0);
  record.max_restarts = json.value("max_restarts", 0);
  for (const auto& node : json.value("nodes", nlohmann::json::array())) {
    record.nodes.push_back(AgentInfo::from_json(node));
  }
  record.plan_path = json.value("plan", std::string());
  record.command = json.value("command", std::vector<std::string>{});
  record.launch_args = json.value("launch_args", std::vector<std::string>{});
  record.time = json.value("time", 0.0);
  return record;
}

std::vector<std::string> own_launch_args() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> args;
  bool after_launch = false;
  for (std::string word; std::getline(in, word, '\0');) {
    if (after_launch) {
      args.push_back(word);
    } else if (word == "launch") {
      after_launch = true;
    }
  }
  return args;
}

void write_job_record(const std::string& job_dir, const JobRecord& record) {
  util::write_file_atomically(monitor::JobDirLayout(job_dir).launch_record(), record.to_json().dump(2) + "\n");
}

std::optional<JobRecord> read_job_record(const std::string& job_dir) {
  const auto path = monitor::JobDirLayout(job_dir).launch_record();
  const auto json = read_json_file(path);
  if (!json) {
    return std::nullopt;
  }
  try {
    return JobRecord::from_json(*json);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: unexpected content ({})", path, e.what()));
  }
}

void write_stop_record(const std::string& job_dir, int attempt, const StopRecord& record) {
  util::write_file_atomically(monitor::JobDirLayout(job_dir).stop_record(attempt), record.to_json().dump(2) + "\n");
}

std::vector<AttemptStop> read_stop_records(const std::string& job_dir) {
  std::vector<AttemptStop> stops;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(job_dir, error)) {
    const auto attempt = monitor::JobDirLayout::attempt_of(entry.path().filename().string());
    if (!attempt) {
      continue;
    }
    const auto path = monitor::JobDirLayout(job_dir).stop_record(*attempt);
    const auto json = read_json_file(path);
    if (!json) {
      continue;
    }
    try {
      stops.push_back({*attempt, StopRecord::from_json(*json)});
    } catch (const nlohmann::json::exception& e) {
      throw InputError(fmt::format("{}: unexpected content ({})", path, e.what()));
    }
  }
  std::sort(stops.begin(), stops.end(),
            [](const AttemptStop& a, const AttemptStop& b) { return a.attempt < b.attempt; });
  return stops;
}

bool writes_job_records(int node_rank, const StopRecord& stop) {
  const bool node0_lost = stop.kind == StopKind::lost && stop.node_rank == 0;
  return node_rank == (node0_lost ? 1 : 0);
}

} // namespace brix::launch
