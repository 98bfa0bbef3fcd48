#!/usr/bin/env bash
# The node collector's GPU figures through the NVML binding brix probe uses, against the stand-in
# NVML of tests/cli/fakes (this machine has no GPU driver): BRIX_NVML_LIBRARY picks the library
# for the collector as for brix probe, and a library that cannot be loaded is reported with the
# loader's message, in the same words brix probe uses.
source "$(dirname "$0")/lib.sh"
compiler=${CC:-cc}
command -v "$compiler" >/dev/null || { echo "skip: no C compiler ($compiler) to build the stand-in NVML"; exit 77; }
command -v jq >/dev/null || { echo "skip: jq not installed"; exit 77; }
if [ -e /proc/driver/nvidia/version ]; then echo "skip: a real GPU driver is loaded; this test stands one in where there is none"; exit 77; fi
source "$(dirname "$0")/monitor_lib.sh"
"$compiler" -shared -fPIC -o "$work/libnvidia-ml.so.1" "$BRIX_SOURCE_DIR/tests/cli/fakes/fake_nvml.c" ||
  { fail "cannot build fake NVML"; finish; exit 1; }

# node_gpus JQ: whether the monitor's snapshot has node-a and JQ holds for it.
node_gpus() {
  run "$BRIX" monitor "$job" --once --format json
  jq -e ".nodes[] | select(.node == \"node-a\") | $1" <<<"$out" >/dev/null 2>&1
}

# The stand-in's two H100s, with the figures it gives.
export BRIX_NVML_LIBRARY="$work/libnvidia-ml.so.1"
start_monitor || { finish; exit 1; }
wait_for 10 "the stand-in's GPUs in the snapshot" node_gpus '.gpu_available and (.gpus | length) == 2'
checks=$((checks + 1))
node_gpus '.gpus[0].name == "NVIDIA H100 80GB HBM3" and .gpus[0].uuid == "GPU-00000000-0000-0000-0000-000000000000"
           and .gpus[0].utilization_percent == 93 and .gpus[1].utilization_percent == 41
           and .gpus[0].temperature_c == 60 and .gpus[0].power_w == 612.5 and .gpus[1].power_w == 250
           and .gpus[0].memory_free_mib == 81559 and .gpus[0].memory_used_mib == 0' ||
  fail "GPU figures from the stand-in NVML: $out"
stop_monitor

# A library that is not there: the collector names it, as brix probe does.
missing="$work/missing-nvml.so"
export BRIX_NVML_LIBRARY=$missing
job="$work/job-missing"
start_monitor || { finish; exit 1; }
wait_for 10 "a node sample without GPUs" node_gpus '.gpu_available == false'
reason=$(jq -r '.nodes[0].gpu_reason' <<<"$out")
loader_message=${reason#NVML not available (no NVIDIA driver): }
checks=$((checks + 1))
[[ "$reason" != "$loader_message" && "$loader_message" == "$missing: "* ]] ||
  fail "the collector's reason does not name $missing first: $reason"
stop_monitor
run env -u HWLOC_XMLFILE "$BRIX" probe --format json
expect_rc 0 "probe with the missing NVML"
checks=$((checks + 1))
jq -e --arg nvml "NVML: $loader_message" '.status.gpu + "\n" + (.warnings | join("\n")) | contains($nvml)' \
  <<<"$out" >/dev/null || fail "brix probe does not report '$loader_message' the same way: $out"
finish
