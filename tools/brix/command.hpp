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

/// Makes every option of `app` and its subcommands that takes a value refuse an empty one
/// (`--cluster ''` would otherwise mean "not given" and fall back to the default silently).
/// Positional arguments (a worker's command line) may be empty.
void refuse_empty_values(CLI::App& app);

/// Adds the standard `--format text|json|yaml` option bound to `target`.
CLI::Option* add_format_option(CLI::App& command, std::string& target);

/// Records the values shell completion offers for `option` (`brix completion`); returns it.
CLI::Option* complete_with(CLI::Option* option, std::vector<std::string> values);
/// The values recorded for `option`; empty when none were (a value option then completes files).
[[nodiscard]] std::vector<std::string> completion_values(const CLI::Option* option);

} // namespace brix::cli
