#include <brix/recover/relaunch.hpp>

#include <brix/launch/hostlist.hpp>
#include <brix/monitor/job_dir.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>

#include <algorithm>
#include <fmt/format.h>
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

/// Rewrites the worker command inside `args` (after `--` when there is one: before it come
/// brix launch's own options) and says in `why` how the relaunch finds the checkpoint.
std::vector<std::string> resume_in(std::vector<std::string> args, const std::string& dir, std::string& why,
                                   bool& export_env) {
  const auto separator = std::find(args.begin(), args.end(), "--");
  const auto begin = separator == args.end() ? args.begin() : separator + 1;
  auto rewrite = with_resume_dir({begin, args.end()}, dir);
  args.erase(begin, args.end());
  args.insert(args.end(), rewrite.command.begin(), rewrite.command.end());
  switch (rewrite.how) {
  case ResumeArgument::checkpoint_dir:
    why += fmt::format("; resumes from the resharded checkpoint {} (--checkpoint-dir rewritten)", dir);
    break;
  case ResumeArgument::megatron_load:
    why += fmt::format("; resumes from the resharded checkpoint {} (--load rewritten, --save kept)", dir);
    break;
  case ResumeArgument::environment:
    why += fmt::format("; the command has neither --checkpoint-dir nor --load: {}={} is exported and the "
                       "program must read it to resume from the resharded checkpoint",
                       k_resume_env, dir);
    export_env = true;
    break;
  }
  return args;
}

} // namespace

ResumeRewrite with_resume_dir(std::vector<std::string> command, const std::string& dir) {
  for (const auto* flag : {"--checkpoint-dir", "--load"}) {
    const std::string name(flag);
    for (std::size_t i = 0; i < command.size(); ++i) {
      const bool separate = command[i] == name && i + 1 < command.size();
      if (separate || command[i].starts_with(name + "=")) {
        if (separate) {
          command[i + 1] = dir;
        } else {
          command[i] = name + "=" + dir;
        }
        return {std::move(command),
                name == "--load" ? ResumeArgument::megatron_load : ResumeArgument::checkpoint_dir};
      }
    }
  }
  return {std::move(command), ResumeArgument::environment};
}

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
    relaunch.why = "not a Slurm job: run this on each node with --node-rank 0..N-1";
    argv.push_back("--");
    auto command = request.record.command;
    if (!request.resume_from.empty()) {
      bool export_env = false;
      command = resume_in(std::move(command), request.resume_from, relaunch.why, export_env);
      if (export_env) {
        argv.insert(argv.begin(), {"env", fmt::format("{}={}", k_resume_env, request.resume_from)});
      }
    }
    argv.insert(argv.end(), command.begin(), command.end());
    relaunch.commands.push_back(std::move(argv));
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
    if (!request.plan_path.empty() || !request.resume_from.empty()) {
      relaunch.why += fmt::format("; a requeued job keeps its arguments, so it does not see the new plan{}: "
                                  "scancel {} and resubmit to use them",
                                  request.resume_from.empty() ? "" : " nor the resharded checkpoint " + request.resume_from,
                                  id);
    }
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
  relaunch.why = fmt::format("job {} ended {}: submit its script again on {} node(s)", id,
                             job.state, request.nodes);
  auto args = with_plan(words, request.plan_path);
  bool export_env = false;
  if (!request.resume_from.empty()) {
    args = resume_in(std::move(args), request.resume_from, relaunch.why, export_env);
  }
  std::vector<std::string> argv{"sbatch", "--exclude=" + exclude,
                                fmt::format("--nodes={}", request.nodes)};
  if (export_env) {
    if (request.resume_from.find(',') != std::string::npos) {
      throw JobError(fmt::format("the resharded checkpoint {} has a comma in its path, which sbatch "
                                 "--export cannot carry: move the job directory",
                                 request.resume_from));
    }
    // ALL keeps the submitting shell's environment, as sbatch does without --export.
    argv.push_back(fmt::format("--export=ALL,{}={}", k_resume_env, request.resume_from));
  }
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
  argv.insert(argv.end(), args.begin(), args.end());
  relaunch.commands.push_back(std::move(argv));
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

std::vector<nlohmann::json> read_restarts(const std::string& job_dir) {
  const auto path = monitor::JobDirLayout(job_dir).restarts();
  std::string why;
  const auto text = util::read_regular_file(path, why);
  if (!text) {
    return {};
  }
  try {
    const auto json = nlohmann::json::parse(*text);
    return json.at("relaunches").get<std::vector<nlohmann::json>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: malformed ({}; expected {{\"relaunches\": [...]}})", path, e.what()));
  }
}

void record_restart(const std::string& job_dir, const nlohmann::json& entry) {
  auto relaunches = read_restarts(job_dir);
  relaunches.push_back(entry);
  const nlohmann::json document{{"brix_recover_restarts", 1}, {"relaunches", relaunches}};
  util::write_file_atomically(monitor::JobDirLayout(job_dir).restarts(), document.dump(2) + "\n");
}

} // namespace brix::recover
