#include <brix/recover/slurm.hpp>

#include <brix/launch/hostlist.hpp>
#include <brix/recover/failures.hpp>
#include <brix/util/strings.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <utility>

namespace brix::recover {
namespace {

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!word.empty()) {
        words.push_back(std::move(word));
        word.clear();
      }
    } else {
      word += c;
    }
  }
  if (!word.empty()) {
    words.push_back(std::move(word));
  }
  return words;
}

/// Slurm keys are CamelCase words, sometimes with ':' or '/' (`TRES`, `CfgTRES`, `Gres/gpu`).
bool looks_like_key(std::string_view key) {
  return !key.empty() && std::isupper(static_cast<unsigned char>(key.front())) &&
         std::all_of(key.begin(), key.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '/' || c == '_';
         });
}

int to_int(const std::map<std::string, std::string>& record, const char* key) {
  const auto it = record.find(key);
  if (it == record.end()) {
    return 0;
  }
  // NumNodes=2 or NumNodes=2-2 (min-max)
  const auto value = util::parse_int(it->second.substr(0, it->second.find('-')));
  return value ? static_cast<int>(*value) : 0;
}

std::string get(const std::map<std::string, std::string>& record, const char* key) {
  const auto it = record.find(key);
  return it == record.end() || it->second == "(null)" ? std::string() : it->second;
}

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

/// sinfo's compact state names, as scontrol spells them.
std::string long_state(std::string_view compact) {
  static const std::map<std::string_view, std::string_view> names = {
      {"alloc", "ALLOCATED"}, {"comp", "COMPLETING"}, {"down", "DOWN"},   {"drain", "IDLE+DRAIN"},
      {"drng", "MIXED+DRAIN"}, {"fail", "DOWN+FAIL"}, {"failg", "MIXED+FAIL"}, {"idle", "IDLE"},
      {"maint", "IDLE+MAINTENANCE"}, {"mix", "MIXED"}, {"resv", "RESERVED"}, {"unk", "UNKNOWN"},
      {"inval", "INVALID_REG"}, {"plnd", "PLANNED"}, {"boot", "REBOOT_ISSUED"}};
  const auto it = names.find(compact);
  return it == names.end() ? upper(compact) : std::string(it->second);
}

} // namespace

CommandRunner system_runner() {
  return [](const std::vector<std::string>& argv) {
    return util::run_command(argv, std::chrono::seconds(30));
  };
}

std::map<std::string, std::string> parse_scontrol_record(std::string_view line) {
  std::map<std::string, std::string> record;
  std::string last;
  for (const auto& word : words_of(line)) {
    const auto equals = word.find('=');
    const auto key = equals == std::string::npos ? std::string_view() : std::string_view(word).substr(0, equals);
    if (looks_like_key(key)) {
      last = std::string(key);
      record[last] = word.substr(equals + 1);
    } else if (!last.empty()) {
      record[last] += " " + word;
    }
  }
  return record;
}

std::string SlurmNode::state() const { return fmt::format("{}", fmt::join(states, "+")); }

std::vector<SlurmNode> parse_scontrol_nodes(std::string_view text) {
  std::vector<SlurmNode> nodes;
  for (const auto& line : util::split(text, '\n')) {
    const auto record = parse_scontrol_record(line);
    const auto name = get(record, "NodeName");
    if (name.empty()) {
      continue;
    }
    SlurmNode node;
    node.name = name;
    node.states = util::split(get(record, "State"), '+');
    node.reason = get(record, "Reason");
    if (const auto bracket = node.reason.rfind(" ["); bracket != std::string::npos) {
      node.reason.resize(bracket);
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

std::vector<SlurmNode> parse_sinfo_nodes(std::string_view text) {
  std::vector<SlurmNode> nodes;
  for (const auto& line : util::split(text, '\n')) {
    const auto words = words_of(line);
    if (words.size() < 2) {
      continue;
    }
    std::string compact = words[1];
    bool not_responding = false;
    // Suffixes: * not responding; ~ $ # % ! @ ^ - power and maintenance flags.
    while (!compact.empty() && std::string_view("*~$#%!@^-").find(compact.back()) != std::string_view::npos) {
      not_responding = not_responding || compact.back() == '*';
      compact.pop_back();
    }
    SlurmNode node;
    node.name = words[0];
    node.states = util::split(long_state(compact), '+');
    if (not_responding) {
      node.states.push_back("NOT_RESPONDING");
    }
    const auto same = std::find_if(nodes.begin(), nodes.end(),
                                   [&](const SlurmNode& seen) { return seen.name == node.name; });
    if (same == nodes.end()) {
      nodes.push_back(std::move(node));
    }
  }
  return nodes;
}

std::optional<std::string> unusable_reason(const SlurmNode& node) {
  static const std::vector<std::string> bad = {"DOWN", "DRAIN", "DRAINING", "DRAINED", "FAIL",
                                               "FAILING", "NOT_RESPONDING", "MAINTENANCE",
                                               "INVALID_REG", "INVALID", "FUTURE"};
  for (const auto& state : node.states) {
    if (std::find(bad.begin(), bad.end(), state) != bad.end()) {
      return fmt::format("Slurm state {}{}", node.state(),
                         node.reason.empty() ? "" : fmt::format(" ({})", node.reason));
    }
  }
  return std::nullopt;
}

std::optional<std::vector<SlurmNode>> query_nodes(const CommandRunner& run) {
  const auto scontrol = run({"scontrol", "show", "node", "-o"});
  if (scontrol.exit_code == 0) {
    return parse_scontrol_nodes(scontrol.output);
  }
  const auto sinfo = run({"sinfo", "-h", "-N", "-o", "%N %t"});
  if (sinfo.exit_code == 0) {
    return parse_sinfo_nodes(sinfo.output);
  }
  return std::nullopt;
}

SlurmJob parse_scontrol_job(std::string_view line) {
  const auto record = parse_scontrol_record(line);
  // The fields scontrol prints as they are, by their key.
  static constexpr std::pair<const char*, std::string SlurmJob::*> k_text_fields[] = {
      {"JobId", &SlurmJob::id},          {"JobName", &SlurmJob::name},       {"JobState", &SlurmJob::state},
      {"Command", &SlurmJob::command},   {"WorkDir", &SlurmJob::work_dir},   {"StdOut", &SlurmJob::std_out},
      {"Partition", &SlurmJob::partition}, {"NodeList", &SlurmJob::node_list}, {"ExcNodeList", &SlurmJob::excluded}};
  SlurmJob job;
  for (const auto& [key, field] : k_text_fields) {
    job.*field = get(record, key);
  }
  job.num_nodes = to_int(record, "NumNodes");
  if (const auto end = get(record, "EndTime"); !end.empty()) {
    std::tm tm{};
    if (::strptime(end.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr) {
      tm.tm_isdst = -1;
      job.end_time = static_cast<double>(std::mktime(&tm)); // Slurm prints local time
    }
  }
  job.restarts = to_int(record, "Restarts");
  job.batch = get(record, "BatchFlag") != "0";
  job.requeue = get(record, "Requeue") == "1";
  return job;
}

std::optional<SlurmJob> query_job(const CommandRunner& run, const std::string& id) {
  const auto result = run({"scontrol", "show", "job", "-o", id});
  if (result.exit_code != 0) {
    return std::nullopt;
  }
  auto job = parse_scontrol_job(util::trim(result.output));
  if (job.id.empty()) {
    return std::nullopt;
  }
  return job;
}

std::vector<Failure> slurm_failures(const SlurmJob& job, const std::vector<SlurmNode>& nodes) {
  std::vector<Failure> failures;
  if (job.state != "NODE_FAIL" || job.node_list.empty()) {
    return failures;
  }
  for (const auto& name : launch::expand_hostlist(job.node_list, "NodeList")) {
    const auto node = std::find_if(nodes.begin(), nodes.end(), [&](const SlurmNode& n) { return n.name == name; });
    if (node != nodes.end() && unusable_reason(*node)) {
      Failure failure;
      failure.kind = FailureKind::node_failed;
      failure.time = job.end_time;
      failure.node = name;
      failure.source = fmt::format("scontrol show job {}", job.id);
      failure.message = fmt::format("Slurm ended job {} NODE_FAIL; node {}", job.id, node->state());
      failures.push_back(std::move(failure));
    }
  }
  return failures;
}

bool waiting_to_run(const SlurmJob& job) {
  return job.state == "PENDING" || job.state.starts_with("REQUEUE") ||
         job.state == "CONFIGURING";
}

std::optional<std::string> parse_submitted_job_id(std::string_view output) {
  const auto words = words_of(output);
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "job" && util::parse_int(words[i + 1])) {
      return words[i + 1];
    }
  }
  return std::nullopt;
}

} // namespace brix::recover
