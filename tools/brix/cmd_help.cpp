#include "command.hpp"

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>

#include <fmt/format.h>
#include <iostream>

namespace brix::cli {

void add_help_command(CLI::App& app, CommandContext& context) {
  auto* command = app.add_subcommand("help", "Show help for brix or one command");
  auto topic = std::make_shared<std::string>();
  std::vector<std::string> names;
  for (const auto& entry : commands()) {
    names.emplace_back(entry.name);
  }
  complete_with(command->add_option("command", *topic, "Command to describe"), names);
  command->callback([&app, &context, topic] {
    if (topic->empty()) {
      // app.help() would describe the parsed subcommand (this one): format the top level itself.
      std::cout << app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal);
      context.exit_code = 0;
      return;
    }
    for (const auto* sub : app.get_subcommands({})) {
      if (sub->get_name() == *topic) {
        std::cout << sub->help(app.get_name()); // "Usage: brix plan", not "Usage: plan"
        context.exit_code = 0;
        return;
      }
    }
    std::vector<std::string> names;
    for (const auto& entry : commands()) {
      names.emplace_back(entry.name);
    }
    throw InputError(fmt::format("help: unknown command '{}'{}", *topic,
                                 util::did_you_mean(*topic, names)));
  });
}

} // namespace brix::cli
