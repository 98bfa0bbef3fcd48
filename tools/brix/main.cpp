// brix: plan, shard, launch, watch and recover multi-node LLM jobs.
// This file only wires the command table to CLI11 and turns errors into exit codes.

#include "command.hpp"
#include "parse_errors.hpp"

#include <brix/util/error.hpp>
#include <brix/util/strings.hpp>
#include <brix/util/version.hpp>

#include <fmt/format.h>
#include <iostream>

int main(int argc, char** argv) {
  using namespace brix;
  CLI::App app{"brix: plan, shard, launch, monitor and recover multi-node LLM jobs", "brix"};
  app.set_version_flag("--version", [] { return version_text(); });
  app.footer("Run 'brix help COMMAND' or 'brix COMMAND --help' for one command. Exit codes: 0 ok, "
             "1 the job or work failed, 2 bad usage or input.");
  app.require_subcommand(0, 1);

  cli::CommandContext context;
  std::vector<std::string> names;
  for (const auto& command : cli::commands()) {
    command.add(app, context);
    names.emplace_back(command.name);
  }
  cli::refuse_empty_values(app);

  // An unknown first word is a mistyped command, not a positional argument.
  if (argc > 1 && argv[1][0] != '-') {
    const std::string word = argv[1];
    bool known = false;
    for (const auto& name : names) {
      known = known || name == word;
    }
    if (!known) {
      std::cerr << fmt::format("brix: error: unknown command '{}'{} (see 'brix help')\n", word,
                               util::did_you_mean(word, names));
      return static_cast<int>(ExitCode::bad_input);
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "brix: error: " << cli::describe_parse_error(app, e) << '\n';
    return static_cast<int>(ExitCode::bad_input);
  } catch (const InputError& e) {
    std::cerr << "brix: error: " << e.what() << '\n';
    return static_cast<int>(ExitCode::bad_input);
  } catch (const JobError& e) {
    std::cerr << "brix: error: " << e.what() << '\n';
    return static_cast<int>(ExitCode::job_failed);
  } catch (const std::exception& e) {
    std::cerr << "brix: error: internal: " << e.what() << '\n';
    return static_cast<int>(ExitCode::job_failed);
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return static_cast<int>(ExitCode::bad_input);
  }
  return context.exit_code;
}
