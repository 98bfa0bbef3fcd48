#!/usr/bin/env bash
# The conventions every command shares: version, help, did-you-mean, exit codes.
source "$(dirname "$0")/lib.sh"

run "$BRIX" --version
expect_rc 0 "--version"; expect_out '^brix [0-9]+\.[0-9]+\.[0-9]+'; expect_out 'cuda'; expect_out 'nccl'

# `brix help` lists every registered command (the table in tools/brix/commands.cpp), not the
# help of the `help` subcommand itself.
run "$BRIX" help
expect_rc 0 "help"; expect_out '^Usage: brix '; expect_out '^Subcommands:'
commands=$(sed -n 's/^ *{"\([a-z]*\)", ".*", add_.*_command},$/\1/p' "$BRIX_SOURCE_DIR/tools/brix/commands.cpp")
[ "$(wc -w <<<"$commands")" -ge 7 ] || fail "could not read the command table: $commands"
for command in $commands; do
  expect_out "^  $command( |$)"
done
checks=$((checks + 1)); ! grep -q '^Positionals:' <<<"$out" || fail "brix help printed the help subcommand's own help: $out"

run "$BRIX" help plan
expect_rc 0 "help plan"; expect_out '^Usage: brix plan '; expect_out '--model'

run "$BRIX" --help
expect_rc 0 "--help"; expect_out 'Usage'

run "$BRIX" hlep
expect_rc 2 "typo"; expect_err "unknown command 'hlep' \(did you mean 'help'\?\)"; expect_one_line_err

run "$BRIX" help nosuchthing
expect_rc 2 "help unknown"; expect_err "unknown command 'nosuchthing'"

run "$BRIX" --no-such-flag
expect_rc 2 "unknown flag"; expect_err '^brix: error:'

finish
