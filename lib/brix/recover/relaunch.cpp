#include <brix/recover/relaunch.hpp>

#include <brix/launch/hostlist.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

namespace brix::recover {
namespace {

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) {
    words.push_back(word);
  }
  return words;
}

std::string exclude_list(const RelaunchRequest& request) {
  std::vector<std::string> hosts;
  if (request.job && !request.job->excluded.empty()) {
    hosts = launch::expand_hostlist(request.job->excluded, "ExcNodeList");
  }
  for (const auto& node : request.exclude) {
    if (std::find(hosts.begin(), hosts.end(), node) == hosts.end()) {
      hosts.push_back(node);
    }
  }
  std::sort(hosts.begin(), hosts.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b; // n2 before n10
  });
  return launch::compress_hostlist(hosts);
}

} // namespace

std::string to_string(RelaunchKind kind) {
  switch (kind) {
  case RelaunchKind::sbatch: return "sbatch";
  case RelaunchKind::update_requeued: return "update-requeued";
  case RelaunchKind::manual: return "manual";
  }
  return "?";
}

std::vector<std::string> with_plan(std::vector<std::string> args, const std::string& plan_path) {
  if (plan_path.empty()) {
    return args;
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      break; // the worker's own arguments
    }
    if (args[i] == "--plan" && i + 1 < args.size()) {
      args[i + 1] = plan_path;
    } else if (args[i].starts_with("--plan=")) {
      args[i] = "--plan=" + plan_path;
    }
  }
  return args;
}

Relaunch plan_relaunch(const RelaunchRequest& request) {
  Relaunch relaunch;
  const auto exclude = exclude_list(request);
  if (request.record.slurm_job_id.empty()) {
    relaunch.kind = RelaunchKind::manual;
    std::vector<std::string> argv{"brix", "launch", "--hosts", launch::compress_hostlist(request.hosts)};
    if (!request.record.nodes.empty()) {
      argv.push_back("--nproc-per-node");
      argv.push_back(std::to_string(request.record.nodes.front().nproc));
    }
    const auto plan = !request.plan_path.empty() ? request.plan_path : request.record.plan_path;
    if (!plan.empty()) {
      argv.insert(argv.end(), {"--plan", plan});
    }
    argv.push_back("--");
    argv.insert(argv.end(), request.record.command.begin(), request.record.command.end());
    relaunch.commands.push_back(std::move(argv));
    relaunch.why = "not a Slurm job: run this on each node with --node-rank 0..N-1";
    return relaunch;
  }
  const auto& id = request.record.slurm_job_id;
  if (!request.job) {
    throw JobError(fmt::format("Slurm no longer knows job {} (past MinJobAge?): resubmit it by hand "
                               "with sbatch --exclude={} -N {}",
                               id, exclude, request.nodes));
  }
  const auto& job = *request.job;
  if (waiting_to_run(job)) {
    relaunch.kind = RelaunchKind::update_requeued;
    relaunch.commands.push_back({"scontrol", "update", "JobId=" + id, "ExcNodeList=" + exclude});
    relaunch.why = fmt::format("Slurm already requeued job {} ({}): it runs again without the "
                               "excluded nodes",
                               id, job.state);
    return relaunch;
  }
  if (job.state == "RUNNING" || job.state == "COMPLETING" || job.state == "SUSPENDED") {
    throw JobError(fmt::format("Slurm job {} is still {}: wait for it to end (or scancel {}) "
                               "before recovering",
                               id, job.state, id));
  }
  if (!job.batch || job.command.empty()) {
    throw JobError(fmt::format("Slurm job {} was not a batch job (no script to resubmit): run "
                               "it again by hand excluding {}",
                               id, exclude));
  }
  auto words = words_of(job.command);
  const auto script = words.front();
  words.erase(words.begin());
  if (words.empty()) {
    // Slurm shows only the script: its arguments are what the agents were started with.
    words = request.record.launch_args;
  }
  std::vector<std::string> argv{"sbatch", "--exclude=" + exclude,
                                fmt::format("--nodes={}", request.nodes)};
  if (!job.name.empty()) {
    argv.push_back("--job-name=" + job.name);
  }
  if (!job.partition.empty()) {
    argv.push_back("--partition=" + job.partition);
  }
  if (!job.work_dir.empty()) {
    argv.push_back("--chdir=" + job.work_dir);
  }
  if (!job.std_out.empty()) {
    argv.push_back("--output=" + job.std_out);
  }
  argv.push_back(script);
  const auto args = with_plan(words, request.plan_path);
  argv.insert(argv.end(), args.begin(), args.end());
  relaunch.commands.push_back(std::move(argv));
  relaunch.why = fmt::format("job {} ended {}: submit its script again on {} node(s)", id,
                             job.state, request.nodes);
  return relaunch;
}

std::string shell_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& word : argv) {
    if (!line.empty()) {
      line += ' ';
    }
    const bool plain = !word.empty() && word.find_first_not_of(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,[]@%+") == std::string::npos;
    if (plain) {
      line += word;
    } else {
      line += '\'';
      for (const char c : word) {
        line += c == '\'' ? std::string("'\\''") : std::string(1, c);
      }
      line += '\'';
    }
  }
  return line;
}

std::string restarts_path(const std::string& job_dir) { return job_dir + "/recover-restarts.json"; }

std::vector<nlohmann::json> read_restarts(const std::string& job_dir) {
  const auto path = restarts_path(job_dir);
  std::ifstream in(path);
  if (!in) {
    return {};
  }
  try {
    const auto json = nlohmann::json::parse(in);
    return json.at("relaunches").get<std::vector<nlohmann::json>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: malformed ({}; expected {{\"relaunches\": [...]}})", path, e.what()));
  }
}

void record_restart(const std::string& job_dir, const nlohmann::json& entry) {
  auto relaunches = read_restarts(job_dir);
  relaunches.push_back(entry);
  const nlohmann::json document{{"brix_recover_restarts", 1}, {"relaunches", relaunches}};
  util::write_file_atomically(restarts_path(job_dir), document.dump(2) + "\n");
}

} // namespace brix::recover
