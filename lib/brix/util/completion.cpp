// The three completion scripts. Each walks the words typed so far to find the (sub)command being
// completed — skipping the value after an option that takes one — then offers that command's
// option values, options, subcommands or positional values.
#include <brix/util/completion.hpp>

#include <fmt/format.h>

#include <functional>

namespace brix::util {

namespace {

struct Node {
  std::string path; ///< "brix plan calibrate"
  const CompletionCommand* command;
};

std::vector<Node> flatten(const CompletionCommand& root) {
  std::vector<Node> out;
  std::function<void(const CompletionCommand&, const std::string&)> walk = [&](const CompletionCommand& command,
                                                                              const std::string& path) {
    out.push_back({path, &command});
    for (const auto& sub : command.subcommands) {
      walk(sub, path + " " + sub.name);
    }
  };
  walk(root, root.name);
  return out;
}

/// 'text' for POSIX shells and fish: single quotes, a single quote as '\''.
std::string quoted(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

/// fish quotes: single quotes, backslash and quote escaped.
std::string fish_quoted(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "'";
}

std::string joined(const std::vector<std::string>& words, std::string_view separator = " ") {
  std::string out;
  for (const auto& word : words) {
    out += (out.empty() ? "" : std::string(separator)) + word;
  }
  return out;
}

/// zsh _describe entries "name:description", colons in the name escaped.
std::string described(std::string_view name, std::string_view description) {
  std::string escaped;
  for (const char c : name) {
    escaped += c == ':' ? std::string("\\:") : std::string(1, c);
  }
  return quoted(escaped + ":" + std::string(description));
}

/// Case patterns ('brix plan --model'|'brix plan -o') of every option of every command that
/// takes a value, and of the subcommand words, shared by bash and zsh.
struct Patterns {
  std::vector<std::string> subcommands;   ///< 'brix plan'
  std::vector<std::string> value_options; ///< 'brix plan --model'
};

Patterns patterns(const std::vector<Node>& nodes) {
  Patterns out;
  for (const auto& node : nodes) {
    if (node.path != nodes.front().path) {
      out.subcommands.push_back(quoted(node.path));
    }
    for (const auto& option : node.command->options) {
      if (option.takes_value) {
        for (const auto& name : option.names) {
          out.value_options.push_back(quoted(node.path + " " + name));
        }
      }
    }
  }
  return out;
}

std::string option_names(const CompletionCommand& command) {
  std::vector<std::string> names;
  for (const auto& option : command.options) {
    for (const auto& name : option.names) {
      names.push_back(name);
    }
  }
  return joined(names);
}

std::string subcommand_names(const CompletionCommand& command) {
  std::vector<std::string> names;
  for (const auto& sub : command.subcommands) {
    names.push_back(sub.name);
  }
  return joined(names);
}

/// The walk over the typed words, in bash/zsh syntax; `words`/`first`/`current` name the
/// shell's array, its first argument index and the index being completed.
std::string path_walk(const Patterns& p, std::string_view root, std::string_view words, int first, std::string_view current) {
  std::string out = fmt::format("  local cmd_path={} word i\n  for ((i = {}; i < {}; i++)); do\n    word=\"${{{}[i]}}\"\n",
                                quoted(root), first, current, words);
  if (!p.subcommands.empty()) {
    out += fmt::format("    case \"$cmd_path $word\" in\n      {}) cmd_path=\"$cmd_path $word\"; continue ;;\n    esac\n",
                       joined(p.subcommands, "|"));
  }
  if (!p.value_options.empty()) {
    out += fmt::format("    case \"$cmd_path $word\" in\n      {}) ((i++)) ;;\n    esac\n", joined(p.value_options, "|"));
  }
  return out + "  done\n";
}

/// One `case` arm per option that takes a value, keyed "PATH OPTION" for each of its names:
/// `action(option)` completes its value, then the function returns (bash and zsh alike).
template <class Action> std::string value_option_cases(const std::vector<Node>& nodes, Action action) {
  std::string out;
  for (const auto& node : nodes) {
    for (const auto& option : node.command->options) {
      if (!option.takes_value) {
        continue;
      }
      std::vector<std::string> keys;
      for (const auto& name : option.names) {
        keys.push_back(quoted(node.path + " " + name));
      }
      out += fmt::format("    {}) {}; return ;;\n", joined(keys, "|"), action(option));
    }
  }
  return out;
}

} // namespace

std::string bash_completion(const CompletionCommand& root) {
  const auto nodes = flatten(root);
  const auto p = patterns(nodes);
  std::string out = fmt::format("# bash completion for {0}, generated by `{0} completion bash`; do not edit.\n"
                                "# Install: {0} completion bash > /usr/share/bash-completion/completions/{0}\n"
                                "# (or ~/.local/share/bash-completion/completions/{0}, or source it from ~/.bashrc).\n",
                                root.name);
  out += fmt::format("_{}() {{\n  local cur=\"${{COMP_WORDS[COMP_CWORD]}}\" prev=\"\"\n"
                     "  (( COMP_CWORD > 0 )) && prev=\"${{COMP_WORDS[COMP_CWORD-1]}}\"\n",
                     root.name);
  out += path_walk(p, root.name, "COMP_WORDS", 1, "COMP_CWORD");
  out += "  case \"$cmd_path $prev\" in\n";
  out += value_option_cases(nodes, [](const CompletionOption& option) {
    return option.values.empty() ? std::string("compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\"))")
                                 : fmt::format("COMPREPLY=($(compgen -W {} -- \"$cur\"))", quoted(joined(option.values)));
  });
  out += "  esac\n  local commands=\"\" options=\"\" values=\"\" files=0\n  case \"$cmd_path\" in\n";
  for (const auto& node : nodes) {
    const auto& command = *node.command;
    out += fmt::format("    {}) commands={}; options={}", quoted(node.path), quoted(subcommand_names(command)),
                       quoted(option_names(command)));
    if (command.positional) {
      out += command.positional_values.empty() ? "; files=1" : fmt::format("; values={}", quoted(joined(command.positional_values)));
    }
    out += " ;;\n";
  }
  // What the word under the cursor completes to: options after '-', else subcommands and values,
  // and file names where the command takes a file.
  out += R"(  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$commands $values" -- "$cur"))
    if (( files )); then
      compopt -o filenames 2>/dev/null
      COMPREPLY+=($(compgen -f -- "$cur"))
    fi
  fi
}
)";
  out += fmt::format("complete -F _{0} {0}\n", root.name);
  return out;
}

std::string zsh_completion(const CompletionCommand& root) {
  const auto nodes = flatten(root);
  const auto p = patterns(nodes);
  std::string out = fmt::format("#compdef {0}\n# zsh completion for {0}, generated by `{0} completion zsh`; do not edit.\n"
                                "# Install as _{0} in a directory on $fpath, e.g. /usr/share/zsh/vendor-completions/_{0}.\n",
                                root.name);
  out += fmt::format("_{}() {{\n  local cur=\"${{words[CURRENT]}}\" prev=\"${{words[CURRENT-1]}}\"\n", root.name);
  out += path_walk(p, root.name, "words", 2, "CURRENT");
  out += "  case \"$cmd_path $prev\" in\n";
  out += value_option_cases(nodes, [](const CompletionOption& option) {
    std::vector<std::string> values;
    for (const auto& value : option.values) {
      values.push_back(quoted(value));
    }
    return option.values.empty() ? std::string("_files") : "compadd -- " + joined(values);
  });
  out += "  esac\n  local -a commands options values\n  local files=0\n  case \"$cmd_path\" in\n";
  for (const auto& node : nodes) {
    const auto& command = *node.command;
    std::vector<std::string> commands;
    for (const auto& sub : command.subcommands) {
      commands.push_back(described(sub.name, sub.description));
    }
    std::vector<std::string> options;
    for (const auto& option : command.options) {
      for (const auto& name : option.names) {
        options.push_back(described(name, option.description));
      }
    }
    std::vector<std::string> values;
    for (const auto& value : command.positional_values) {
      values.push_back(quoted(value));
    }
    out += fmt::format("    {})\n      commands=({})\n      options=({})\n", quoted(node.path), joined(commands),
                       joined(options));
    if (command.positional) {
      out += command.positional_values.empty() ? "      files=1\n" : fmt::format("      values=({})\n", joined(values));
    }
    out += "      ;;\n";
  }
  // zsh's own completers: described options and subcommands, values, files.
  out += R"(  esac
  if [[ "$cur" == -* ]]; then
    _describe -t options 'option' options
  else
    (( ${#commands} )) && _describe -t commands 'command' commands
    (( ${#values} )) && compadd -- "${values[@]}"
    (( files )) && _files
  fi
}
)";
  out += fmt::format("_{} \"$@\"\n", root.name);
  return out;
}

std::string fish_completion(const CompletionCommand& root) {
  const auto nodes = flatten(root);
  const auto name = root.name;
  std::string out = fmt::format("# fish completion for {0}, generated by `{0} completion fish`; do not edit.\n"
                                "# Install: {0} completion fish > ~/.config/fish/completions/{0}.fish\n",
                                name);
  std::vector<std::string> subcommands;
  std::vector<std::string> value_options;
  for (const auto& node : nodes) {
    if (node.path != root.name) {
      subcommands.push_back(fish_quoted(node.path));
    }
    for (const auto& option : node.command->options) {
      if (option.takes_value) {
        for (const auto& option_name : option.names) {
          value_options.push_back(fish_quoted(node.path + " " + option_name));
        }
      }
    }
  }
  out += fmt::format("function __{}_path --description 'the {} command being completed'\n"
                     "    set -l path {}\n    set -l skip 0\n"
                     "    set -l words (commandline -opc)\n    set -e words[1]\n    for word in $words\n"
                     "        if test $skip -eq 1\n            set skip 0\n            continue\n        end\n",
                     name, name, fish_quoted(name));
  if (!subcommands.empty()) {
    out += fmt::format("        switch \"$path $word\"\n            case {}\n                set path \"$path $word\"\n"
                       "                continue\n        end\n",
                       joined(subcommands));
  }
  if (!value_options.empty()) {
    out += fmt::format("        switch \"$path $word\"\n            case {}\n                set skip 1\n        end\n",
                       joined(value_options));
  }
  out += "    end\n    echo $path\nend\n";
  out += fmt::format("function __{0}_path_is --description 'whether the {0} command being completed is $argv[1]'\n"
                     "    test (__{0}_path) = \"$argv[1]\"\nend\n",
                     name);
  out += fmt::format("complete -c {} -f\n", name);
  for (const auto& node : nodes) {
    const auto condition = fmt::format("-n {}", fish_quoted(fmt::format("__{}_path_is {}", name, fish_quoted(node.path))));
    for (const auto& sub : node.command->subcommands) {
      out += fmt::format("complete -c {} {} -a {} -d {}\n", name, condition, fish_quoted(sub.name), fish_quoted(sub.description));
    }
    for (const auto& option : node.command->options) {
      std::string flags;
      for (const auto& option_name : option.names) {
        if (option_name.rfind("--", 0) == 0) {
          flags += " -l " + fish_quoted(option_name.substr(2));
        } else if (option_name.size() == 2 && option_name[0] == '-') {
          flags += " -s " + fish_quoted(option_name.substr(1));
        } else {
          flags += " -o " + fish_quoted(option_name.substr(1));
        }
      }
      std::string values;
      if (option.takes_value) {
        values = option.values.empty() ? " -r -F" : " -x -a " + fish_quoted(joined(option.values));
      }
      out += fmt::format("complete -c {} {}{} -d {}{}\n", name, condition, flags, fish_quoted(option.description), values);
    }
    if (node.command->positional) {
      out += node.command->positional_values.empty()
                 ? fmt::format("complete -c {} {} -F\n", name, condition)
                 : fmt::format("complete -c {} {} -a {}\n", name, condition, fish_quoted(joined(node.command->positional_values)));
    }
  }
  return out;
}

} // namespace brix::util
