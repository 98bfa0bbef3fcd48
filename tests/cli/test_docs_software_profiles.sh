#!/usr/bin/env bash
# Every software profile `brix plan --help` offers (plan::software_names, the one table) is
# described under --software in man/brix-plan.1, so a profile cannot be added without its page.
source "$(dirname "$0")/lib.sh"

run "$BRIX" plan --help
expect_rc 0 "plan --help"
profiles=$(grep -oE 'Framework generation: [a-z0-9, .-]+' <<<"$out" | sed 's/^Framework generation: //; s/, /\n/g')
[ -n "$profiles" ] || fail "plan --help lists no software profiles: $out"
# The --software entry: from its .BI line to the next .TP, man's '\-' read as '-'.
entry=$(awk '/^\.BI \\-\\-software /{on=1; next} on && /^\.TP/{exit} on' "$BRIX_SOURCE_DIR/man/brix-plan.1" |
  sed 's/\\-/-/g')
while read -r profile; do
  checks=$((checks + 1))
  grep -qE "(^|[ \"])${profile}([ \",]|\$)" <<<"$entry" || fail "man/brix-plan.1 --software does not name '$profile'"
done <<<"$profiles"
finish
