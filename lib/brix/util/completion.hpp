#pragma once
// Shell completion scripts (bash, zsh, fish) generated from a description of a command tree:
// commands, their options (which take a value, and which values), positional arguments. The
// CLI builds the description from its own parser, so the scripts always match the program.

#include <string>
#include <vector>

namespace brix::util {

struct CompletionOption {
  std::vector<std::string> names; ///< "--model", "-o"
  std::string description;
  bool takes_value = false;
  std::vector<std::string> values; ///< the values offered; empty with takes_value: file names
};

struct CompletionCommand {
  std::string name;
  std::string description;
  std::vector<CompletionOption> options;
  std::vector<CompletionCommand> subcommands;
  bool positional = false;                   ///< takes positional arguments
  std::vector<std::string> positional_values; ///< offered for them; empty: file names
};

/// A bash script defining and registering the completion function (bash-completion or plain bash).
[[nodiscard]] std::string bash_completion(const CompletionCommand& root);
/// A zsh completion function file (#compdef), for a directory on $fpath.
[[nodiscard]] std::string zsh_completion(const CompletionCommand& root);
/// fish `complete` commands.
[[nodiscard]] std::string fish_completion(const CompletionCommand& root);

} // namespace brix::util
