#pragma once
// The command table: every `brix` subcommand is one entry, so help, `brix help X` and
// "did you mean" all read the same list. A command is registered only when it works.

#include <CLI/CLI.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace brix::cli {

struct CommandContext {
  int exit_code = 0; ///< set by the command that ran
};

struct Command {
  std::string_view name;
  std::string_view summary;
  /// Adds the subcommand to `app`; its callback runs the command and sets context.exit_code.
  void (*add)(CLI::App& app, CommandContext& context);
};

[[nodiscard]] std::span<const Command> commands();

/// Adds the standard `--format text|json|yaml` option bound to `target`.
CLI::Option* add_format_option(CLI::App& command, std::string& target);

/// Records the values shell completion offers for `option` (`brix completion`); returns it.
CLI::Option* complete_with(CLI::Option* option, std::vector<std::string> values);
/// The values recorded for `option`; empty when none were (a value option then completes files).
[[nodiscard]] std::vector<std::string> completion_values(const CLI::Option* option);

} // namespace brix::cli
