#!/usr/bin/env bash
# The bad-input corpus (tests/bad_input/): every malformed input ends in one located line and
# exit 2 (or the documented 1), with no signal, no hang and nothing written outside the target.
source "$(dirname "$0")/lib.sh"
python3 "$BRIX_SOURCE_DIR/tests/bad_input/run_corpus.py" "$BRIX" "$BRIX_SOURCE_DIR/tests/bad_input"
