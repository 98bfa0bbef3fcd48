#!/usr/bin/env bash
# Every field `brix plan calibrate --format json` writes (a run's, a set summary's, the
# leave-one-source-out block's) is named in man/brix-plan.1, so a new field cannot go undocumented.
source "$(dirname "$0")/lib.sh"

run "$BRIX" plan calibrate "$BRIX_SOURCE_DIR/configs/calibration/fit/korthikanti-2022.yaml" --format json
expect_rc 0 "calibrate json"
fields=$(python3 -c '
import json, sys
doc = json.loads(sys.stdin.read())
names = set(doc)
for run in doc["runs"]:
    names |= set(run)
for summary in ("fit", "heldout", "all"):
    names |= set(doc[summary])
names |= set(doc["leave_one_source_out"])
for source in doc["leave_one_source_out"]["sources"]:
    names |= set(source)
print("\n".join(sorted(names)))' <<<"$out")
[ -n "$fields" ] || fail "calibrate json has no fields: $out"
page=$(sed 's/\\-/-/g' "$BRIX_SOURCE_DIR/man/brix-plan.1")
while read -r field; do
  checks=$((checks + 1))
  grep -qE "(^|[ {,\"])${field}([ {}[,\"]|\$)" <<<"$page" || fail "man/brix-plan.1 does not name calibrate's JSON field '$field'"
done <<<"$fields"
finish
