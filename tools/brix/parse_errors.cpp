#include "parse_errors.hpp"

#include <brix/util/strings.hpp>

#include <fmt/format.h>
#include <regex>

namespace brix::cli {

namespace {

/// The deepest subcommand the parse reached (the one whose options were being read).
const CLI::App* innermost(const CLI::App& app) {
  const CLI::App* current = &app;
  for (;;) {
    const auto parsed = current->get_subcommands();
    if (parsed.empty()) {
      return current;
    }
    current = parsed.back();
  }
}

std::string command_path(const CLI::App* app) {
  std::string path;
  for (; app != nullptr; app = app->get_parent()) {
    path = path.empty() ? app->get_name() : app->get_name() + " " + path;
  }
  return path;
}

std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* option : app.get_options()) {
    for (const auto& name : option->get_lnames()) {
      names.push_back("--" + name);
    }
    for (const auto& name : option->get_snames()) {
      names.push_back("-" + name);
    }
  }
  return names;
}

/// "--modle x": the first unexpected word, named with its closest option or the list of options.
std::string describe_extras(const CLI::App& app) {
  const CLI::App* command = innermost(app);
  // The words are kept by the app that could not place them: this one or one of its parents.
  std::vector<std::string> extras;
  for (const CLI::App* holder = command; holder != nullptr && extras.empty(); holder = holder->get_parent()) {
    extras = holder->remaining(false);
  }
  const std::string path = command_path(command);
  if (extras.empty()) {
    return fmt::format("unexpected arguments (see '{} --help')", path);
  }
  const std::string& word = extras.front();
  if (word.starts_with("-")) {
    const std::string flag = word.substr(0, word.find('='));
    const auto names = option_names(*command);
    const auto suggestion = util::did_you_mean(flag, names);
    if (!suggestion.empty()) {
      return fmt::format("{}: unknown option of {}{}", flag, path, suggestion);
    }
    return fmt::format("{}: unknown option of {} (expected one of {})", flag, path, fmt::join(names, ", "));
  }
  return fmt::format("{}: unexpected argument to {} (see '{} --help')", word, path, path);
}

/// "Could not convert: --price = abc" → "--price: 'abc' is not a number (expected ...)".
std::string describe_conversion(const CLI::App& app, const std::string& message) {
  static const std::regex pattern{R"(Could not convert: (\S+) = (.*))"};
  std::smatch match;
  if (!std::regex_match(message, match, pattern)) {
    return message;
  }
  const std::string name = match[1];
  const std::string value = match[2];
  std::string type;
  const CLI::App* command = innermost(app);
  for (const auto* option : command->get_options()) {
    if (option->get_name() == name || option->check_name(name)) {
      type = option->get_type_name();
    }
  }
  if (type == "INT" || type == "UINT") {
    return fmt::format("{}: '{}' is not an integer (expected a whole number)", name, value);
  }
  if (type == "FLOAT") {
    return fmt::format("{}: '{}' is not a number (expected a decimal number such as 2.5)", name, value);
  }
  return fmt::format("{}: '{}' is not a valid value (expected {})", name, value, type.empty() ? "see --help" : type);
}

} // namespace

std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& error) {
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
    return describe_extras(app);
  }
  if (dynamic_cast<const CLI::ConversionError*>(&error) != nullptr) {
    return describe_conversion(app, error.what());
  }
  if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr) {
    // "command is required" alone does not say of which command.
    const std::string path = command_path(innermost(app));
    return fmt::format("{}: {} (see '{} --help')", path, error.what(), path);
  }
  return fmt::format("{} (see 'brix help')", error.what());
}

} // namespace brix::cli
