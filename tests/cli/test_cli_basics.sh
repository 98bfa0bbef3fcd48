#!/usr/bin/env bash
# The conventions every command shares: version, help, did-you-mean, exit codes.
source "$(dirname "$0")/lib.sh"

run "$BRIX" --version
expect_rc 0 "--version"; expect_out '^brix [0-9]+\.[0-9]+\.[0-9]+'; expect_out 'cuda'; expect_out 'nccl'

run "$BRIX" help
expect_rc 0 "help"; expect_out 'help'

run "$BRIX" --help
expect_rc 0 "--help"; expect_out 'Usage'

run "$BRIX" hlep
expect_rc 2 "typo"; expect_err "unknown command 'hlep' \(did you mean 'help'\?\)"; expect_one_line_err

run "$BRIX" help nosuchthing
expect_rc 2 "help unknown"; expect_err "unknown command 'nosuchthing'"

run "$BRIX" --no-such-flag
expect_rc 2 "unknown flag"; expect_err '^brix: error:'

finish
