#include <brix/monitor/job_dir_actions.hpp>

#include <brix/monitor/clock.hpp>
#include <brix/monitor/job_dir.hpp>
#include <brix/util/atomic_file.hpp>
#include <brix/util/error.hpp>
#include <brix/util/input_file.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace brix::monitor {

std::vector<SuspectNode> read_suspect_nodes(const std::string& job_dir) {
  const auto path = JobDirLayout(job_dir).suspect_nodes();
  std::vector<SuspectNode> out;
  std::string why;
  const auto text = util::read_regular_file(path, why);
  if (!text) {
    return out;
  }
  try {
    const auto document = nlohmann::json::parse(*text);
    for (const auto& item : document.at("nodes")) {
      out.push_back({item.at("node").get<std::string>(), item.value("reason", ""), item.value("time", 0.0)});
    }
  } catch (const nlohmann::json::exception& error) {
    throw InputError(fmt::format("{}: malformed suspect list: {}", path, error.what()));
  }
  return out;
}

JobDirActions::JobDirActions(std::string job_dir)
    : m_job_dir(std::move(job_dir)), m_log(JobDirLayout(m_job_dir).event_log()), m_suspects(read_suspect_nodes(m_job_dir)) {}

JobDirActions::~JobDirActions() { reap(); }

void JobDirActions::event(const Event& event) { m_log.append(event); }

void JobDirActions::reap() {
  std::erase_if(m_hooks, [](int pid) { return ::waitpid(pid, nullptr, WNOHANG) != 0; });
}

void JobDirActions::hook(const std::string& command,
                         const std::vector<std::pair<std::string, std::string>>& environment) {
  reap();
  if (static_cast<int>(m_hooks.size()) >= k_max_running_hooks) {
    Event skipped{SystemClock().now(), "hook_skipped", "", std::nullopt,
                  fmt::format("hook not run: {} hooks still running: {}", m_hooks.size(), command)};
    m_log.append(skipped);
    return;
  }
  std::vector<std::string> variables;
  for (char** item = environ; *item != nullptr; ++item) {
    variables.emplace_back(*item);
  }
  for (const auto& [name, value] : environment) {
    variables.push_back(name + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& variable : variables) {
    envp.push_back(variable.data());
  }
  envp.push_back(nullptr);
  std::string shell = "/bin/sh";
  std::string flag = "-c";
  std::string text = command;
  char* argv[] = {shell.data(), flag.data(), text.data(), nullptr};
  pid_t pid = 0;
  if (::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, envp.data()) == 0) {
    m_hooks.push_back(pid);
  }
}

void JobDirActions::suspect(const std::string& node, const std::string& reason, double time) {
  for (const auto& seen : m_suspects) {
    if (seen.node == node) {
      return;
    }
  }
  m_suspects.push_back({node, reason, time});
  nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
  for (const auto& item : m_suspects) {
    nodes.push_back({{"node", item.node}, {"reason", item.reason}, {"time", item.time}});
  }
  const nlohmann::ordered_json document{{"brix_suspect_nodes", 1}, {"nodes", std::move(nodes)}};
  util::write_file_atomically(JobDirLayout(m_job_dir).suspect_nodes(), document.dump(2) + "\n",
                              {.failure = util::WriteFailure::job_error});
}

} // namespace brix::monitor
