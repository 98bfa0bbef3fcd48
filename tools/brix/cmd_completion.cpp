// brix completion bash|zsh|fish: the shell completion script, generated from the parser itself
// (every command, option and the values recorded with complete_with), so it never drifts.
#include "command.hpp"

#include <brix/util/completion.hpp>
#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>
#include <iostream>

namespace brix::cli {

namespace {

util::CompletionCommand describe(const CLI::App& app) {
  util::CompletionCommand out;
  out.name = app.get_name();
  out.description = app.get_description();
  for (const CLI::Option* option : app.get_options()) {
    if (option->nonpositional()) {
      util::CompletionOption entry;
      for (const auto& name : option->get_lnames()) {
        entry.names.push_back("--" + name);
      }
      for (const auto& name : option->get_snames()) {
        entry.names.push_back("-" + name);
      }
      entry.description = option->get_description();
      entry.takes_value = option->get_type_size() != 0;
      entry.values = completion_values(option);
      out.options.push_back(std::move(entry));
    } else {
      out.positional = true;
      const auto values = completion_values(option);
      out.positional_values.insert(out.positional_values.end(), values.begin(), values.end());
    }
  }
  for (const CLI::App* sub : app.get_subcommands({})) {
    out.subcommands.push_back(describe(*sub));
  }
  return out;
}

} // namespace

void add_completion_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("completion", "Print a shell completion script for brix (bash, zsh or fish)");
  command->footer("Install: brix completion bash > /usr/share/bash-completion/completions/brix (scripts/setup.sh does "
                  "this, and the zsh and fish equivalents).");
  auto shell = std::make_shared<std::string>();
  complete_with(command->add_option("shell", *shell, "bash, zsh or fish")->required(), {"bash", "zsh", "fish"});
  command->callback([&app, &context, shell] {
    const auto root = describe(app);
    if (*shell == "bash") {
      std::cout << util::bash_completion(root);
    } else if (*shell == "zsh") {
      std::cout << util::zsh_completion(root);
    } else if (*shell == "fish") {
      std::cout << util::fish_completion(root);
    } else {
      const std::vector<std::string> shells{"bash", "zsh", "fish"};
      throw InputError(fmt::format("completion: unknown shell '{}'{} (expected bash, zsh or fish)", *shell,
                                   util::did_you_mean(*shell, shells)));
    }
    context.exit_code = 0;
  });
}

} // namespace brix::cli
