#!/usr/bin/env bash
# Installs, builds and runs every test (unit tests, CLI tests, real-process and Slurm tests).
# Tests that need a GPU skip with a visible reason when there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd "${BRIX_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 900 -j "${BRIX_TEST_JOBS:-1}"
