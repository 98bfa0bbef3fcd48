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

} // namespace

bool blames_node(const Failure& failure) {
  switch (failure.kind) {
  case FailureKind::node_lost:
  case FailureKind::heartbeat_lost:
  case FailureKind::node_failed:
    return !failure.node.empty();
  case FailureKind::killed:
    return !failure.node.empty() && failure.signal && !stop_signal(*failure.signal);
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
