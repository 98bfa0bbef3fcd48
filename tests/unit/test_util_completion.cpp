// Completion scripts from a command tree: every command, option and value appears where its
// shell looks for it. (tests/cli/test_completion.sh runs them in real shells.)
#include <brix/util/completion.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace brix::util;

namespace {

CompletionCommand tree() {
  CompletionCommand root{"tool", "a tool", {{{"--help", "-h"}, "Print help", false, {}}}, {}, false, {}};
  CompletionCommand plan{"plan", "Plan things", {}, {}, false, {}};
  plan.options.push_back({{"--model"}, "Model name", true, {"llama", "gpt's"}});
  plan.options.push_back({{"--output", "-o"}, "File to write", true, {}});
  plan.options.push_back({{"--describe"}, "Describe only", false, {}});
  plan.subcommands.push_back({"calibrate", "Compare: with runs", {{{"--emit"}, "Emit", true, {"html"}}}, {}, true, {}});
  root.subcommands.push_back(plan);
  root.subcommands.push_back({"help", "Show help", {}, {}, true, {"plan", "help"}});
  return root;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("util::bash_completion") {
  const auto script = bash_completion(tree());
  CHECK(contains(script, "complete -F _tool tool\n"));
  CHECK(contains(script, "'tool plan'|'tool plan calibrate'|'tool help') cmd_path=\"$cmd_path $word\"; continue ;;"));
  CHECK(contains(script, "'tool plan --model'|'tool plan --output'|'tool plan -o'|'tool plan calibrate --emit') ((i++)) ;;"));
  CHECK(contains(script, "'tool plan --model') COMPREPLY=($(compgen -W 'llama gpt'\\''s' -- \"$cur\")); return ;;"));
  CHECK(contains(script, "'tool plan --output'|'tool plan -o') compopt -o filenames"));
  CHECK(contains(script, "'tool') commands='plan help'; options='--help -h' ;;"));
  CHECK(contains(script, "'tool plan calibrate') commands=''; options='--emit'; files=1 ;;"));
  CHECK(contains(script, "'tool help') commands=''; options=''; values='plan help' ;;"));
}

TEST_CASE("util::zsh_completion") {
  const auto script = zsh_completion(tree());
  CHECK(script.rfind("#compdef tool\n", 0) == 0);
  CHECK(contains(script, "commands=('plan:Plan things' 'help:Show help')"));
  CHECK(contains(script, "'tool plan --model') compadd -- 'llama' 'gpt'\\''s'; return ;;"));
  CHECK(contains(script, "'tool plan --output'|'tool plan -o') _files; return ;;"));
  CHECK(contains(script, "'--describe:Describe only'"));
  CHECK(contains(script, "_tool \"$@\"\n"));
}

TEST_CASE("util::fish_completion") {
  const auto script = fish_completion(tree());
  CHECK(contains(script, R"(complete -c tool -n '__tool_path_is \'tool\'' -a 'plan' -d 'Plan things')"));
  CHECK(contains(script, R"(-l 'model' -d 'Model name' -x -a 'llama gpt\'s')"));
  CHECK(contains(script, "-l 'output' -s 'o' -d 'File to write' -r -F"));
  CHECK(contains(script, "case 'tool plan --model' 'tool plan --output' 'tool plan -o' 'tool plan calibrate --emit'"));
}
