#include <brix/recover/exclusions.hpp>

#include <algorithm>
#include <csignal>
#include <fmt/format.h>

namespace brix::recover {
namespace {

void add(std::vector<Exclusion>& exclusions, const std::string& node, std::string reason) {
  if (node.empty()) {
    return;
  }
  auto it = std::find_if(exclusions.begin(), exclusions.end(),
                         [&](const Exclusion& e) { return e.node == node; });
  if (it == exclusions.end()) {
    exclusions.push_back({node, {}});
    it = exclusions.end() - 1;
  }
  if (std::find(it->reasons.begin(), it->reasons.end(), reason) == it->reasons.end()) {
    it->reasons.push_back(std::move(reason));
  }
}

bool stop_signal(int signal) { return signal == SIGTERM || signal == SIGINT || signal == SIGHUP; }

/// Signals a process brings on itself or gets from a peer, not from its node: SIGPIPE (a peer
/// closed the connection it wrote to: the peer's failure, seen here), SIGABRT (the program
/// aborted: an assertion, an uncaught exception, a collective watchdog), SIGSEGV and SIGFPE
/// (program bugs far more often than hardware), SIGUSR1/2 and SIGALRM (sent on purpose).
/// What remains (SIGKILL from the OOM killer or a dying node, SIGBUS from memory errors,
/// SIGILL, ...) blames the node.
bool program_signal(int signal) {
  return signal == SIGPIPE || signal == SIGABRT || signal == SIGSEGV || signal == SIGFPE ||
         signal == SIGUSR1 || signal == SIGUSR2 || signal == SIGALRM;
}

} // namespace

bool blames_node(const Failure& failure) {
  switch (failure.kind) {
  case FailureKind::node_lost:
  case FailureKind::heartbeat_lost:
  case FailureKind::node_failed:
    return !failure.node.empty();
  case FailureKind::killed:
    return !failure.node.empty() && failure.signal && !stop_signal(*failure.signal) &&
           !program_signal(*failure.signal);
  case FailureKind::exited:
  case FailureKind::stopped:
    return false;
  }
  return false;
}

std::vector<Exclusion> decide_exclusions(const std::vector<Failure>& failures,
                                         const std::vector<monitor::SuspectNode>& suspects,
                                         const std::vector<SlurmNode>& slurm_nodes) {
  std::vector<Exclusion> exclusions;
  for (const auto& failure : failures) {
    if (blames_node(failure)) {
      add(exclusions, failure.node, fmt::format("failure: {} ({})", failure.describe(), failure.source));
    }
  }
  for (const auto& suspect : suspects) {
    add(exclusions, suspect.node, fmt::format("suspect (brix monitor): {}", suspect.reason));
  }
  for (const auto& node : slurm_nodes) {
    if (const auto reason = unusable_reason(node)) {
      add(exclusions, node.name, *reason);
    }
  }
  return exclusions;
}

std::vector<std::string> kept_nodes_notes(const std::vector<Failure>& failures) {
  std::vector<std::string> notes;
  for (const auto& failure : failures) {
    if (blames_node(failure) || failure.node.empty()) {
      continue;
    }
    notes.push_back(fmt::format("{}: {}, node {} kept", failure.describe(),
                                failure.kind == FailureKind::stopped ? "a stop request"
                                                                     : "the program's error",
                                failure.node));
  }
  return notes;
}

nlohmann::ordered_json to_json(const std::vector<Exclusion>& exclusions) {
  auto list = nlohmann::ordered_json::array();
  for (const auto& exclusion : exclusions) {
    list.push_back({{"node", exclusion.node}, {"reasons", exclusion.reasons}});
  }
  return list;
}

} // namespace brix::recover
