#include "command.hpp"

#include <brix/util/output.hpp>

#include <map>

namespace brix::cli {

void add_help_command(CLI::App& app, CommandContext& context);
void add_monitor_command(CLI::App& app, CommandContext& context);
void add_plan_command(CLI::App& app, CommandContext& context);
void add_probe_command(CLI::App& app, CommandContext& context);
void add_launch_command(CLI::App& app, CommandContext& context);
void add_shard_command(CLI::App& app, CommandContext& context);
void add_recover_command(CLI::App& app, CommandContext& context);
void add_completion_command(CLI::App& app, CommandContext& context);

namespace {
// One row per subcommand, in the order help lists them.
constexpr Command k_commands[] = {
    {"help", "Show help for brix or one command", add_help_command},
    {"plan", "Search parallel layouts; predict memory, step time and MFU; describe models", add_plan_command},
    {"probe", "Describe this node (GPUs, adapters, PCIe paths, versions); merge many", add_probe_command},
    {"shard", "Place a plan's ranks on nodes and reshard checkpoints for it", add_shard_command},
    {"launch", "Start and supervise workers on every node (torchrun-compatible)", add_launch_command},
    {"monitor", "Watch a running job: stragglers, heartbeats, GPUs, rules, Prometheus", add_monitor_command},
    {"recover", "After a failure: exclude nodes, re-plan, relaunch; verify and list checkpoints", add_recover_command},
    {"completion", "Print a shell completion script: brix completion bash|zsh|fish", add_completion_command},
};

std::map<const CLI::Option*, std::vector<std::string>>& value_table() {
  static std::map<const CLI::Option*, std::vector<std::string>> table;
  return table;
}
} // namespace

std::span<const Command> commands() { return k_commands; }

void refuse_empty_values(CLI::App& app) {
  static const CLI::Validator non_empty(
      [](const std::string& value) { return value.empty() ? std::string("empty (expected a value)") : std::string(); },
      ""); // no description: the option's type name (INT, FLOAT) stays what help and errors show

  for (auto* option : app.get_options()) {
    if (option->nonpositional() && option->get_expected_min() > 0) {
      option->check(non_empty);
    }
  }
  for (auto* command : app.get_subcommands({})) {
    refuse_empty_values(*command);
  }
}

CLI::Option* add_format_option(CLI::App& command, std::string& target) {
  target = "text";
  return complete_with(command.add_option("--format", target, "Output format: text, json or yaml")->default_str("text"),
                       {"text", "json", "yaml"});
}

CLI::Option* complete_with(CLI::Option* option, std::vector<std::string> values) {
  value_table()[option] = std::move(values);
  return option;
}

std::vector<std::string> completion_values(const CLI::Option* option) {
  const auto found = value_table().find(option);
  return found == value_table().end() ? std::vector<std::string>{} : found->second;
}

} // namespace brix::cli
