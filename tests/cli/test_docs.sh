#!/usr/bin/env bash
# Docs that cannot go stale: every command of README.md and the man pages' EXAMPLES runs (or is
# listed in tests/docs/not-run.txt with why not), and README's figures of the default job are
# scripts/readme_figures.py's output.
source "$(dirname "$0")/lib.sh"
python3 "$BRIX_SOURCE_DIR/tests/docs/run_docs.py" "$BRIX_BUILD_DIR" "$BRIX_SOURCE_DIR"
