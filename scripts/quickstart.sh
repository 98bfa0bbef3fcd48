#!/usr/bin/env bash
# The main job: install, build, then plan the bundled default (DeepSeek-R1 671B on the
# example deployment of configs/clusters/example-deployment.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec ./build/brix plan "$@"
