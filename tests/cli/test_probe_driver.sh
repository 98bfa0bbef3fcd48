#!/usr/bin/env bash
# The GPU driver path (NVML and the CUDA runtime loaded with dlopen) against stand-in libraries
# built here, since this machine has no GPU driver: two H100s, one trained at x8, one with two
# NVLinks down; hwloc sees neither (they are not on this machine's PCI bus), which is reported.
source "$(dirname "$0")/lib.sh"
compiler=${CC:-cc}
command -v "$compiler" >/dev/null || { echo "skip: no C compiler ($compiler) to build the stand-in NVML"; exit 77; }
command -v jq >/dev/null || { echo "skip: jq not installed"; exit 77; }
if [ -e /proc/driver/nvidia/version ]; then echo "skip: a real GPU driver is loaded; this test stands one in where there is none"; exit 77; fi
fakes="$BRIX_SOURCE_DIR/tests/cli/fakes"
"$compiler" -shared -fPIC -o "$work/libnvidia-ml.so.1" "$fakes/fake_nvml.c" || { fail "cannot build fake NVML"; finish; exit 1; }
"$compiler" -shared -fPIC -o "$work/libcudart.so" "$fakes/fake_cudart.c" || { fail "cannot build fake CUDA runtime"; finish; exit 1; }

run env -u HWLOC_XMLFILE BRIX_NVML_LIBRARY="$work/libnvidia-ml.so.1" BRIX_CUDART_LIBRARY="$work/libcudart.so" \
  "$BRIX" probe --format json
expect_rc 0 "probe with the stand-in driver"
checks=$((checks + 1))
jq -e '.status.gpu == "2 GPUs (NVML, CUDA runtime)"
       and .software.nvidia_driver == "550.54.15" and .software.cuda_driver == "12.4" and .software.cuda_runtime == "12.4"
       and (.gpus | length) == 2
       and .gpus[0].pci_bus_id == "0000:1b:00.0" and .gpus[0].model == "NVIDIA H100 80GB HBM3"
       and .gpus[0].compute_capability == "9.0" and .gpus[0].multiprocessors == 132
       and .gpus[0].memory_bytes == 85520809984 and .gpus[0].serial == "1650923000000"
       and .gpus[0].pcie_gen == 5 and .gpus[0].pcie_width == 16
       and .gpus[0].nvlink.version == 4 and .gpus[0].nvlink.active_links == 18 and .gpus[0].nvlink.gb_per_s == 900
       and .gpus[0].nvlink.peers == [{"target": "switch", "links": 18}]
       and .gpus[1].pcie_width == 8 and .gpus[1].pcie_expected_width == 16 and .gpus[1].nvlink.active_links == 16
       and .gpu_paths[0][1] == "NV16/SYS"
       and (.warnings | index("GPU 0000:43:00.0 (NVIDIA H100 80GB HBM3): PCIe link x8, expected x16") != null)
       and (.warnings | index("GPU 0000:43:00.0 (NVIDIA H100 80GB HBM3): 16 of 18 NVLinks active") != null)
       and ([.warnings[] | select(test("reported by the driver but not in the hwloc topology"))] | length) == 2' \
  <<<"$out" >/dev/null || fail "driver-backed report: $out"

# Only the CUDA runtime (no NVML): GPUs from CUDA, the missing NVML named in a warning.
run env -u HWLOC_XMLFILE BRIX_NVML_LIBRARY="$work/missing-nvml.so" BRIX_CUDART_LIBRARY="$work/libcudart.so" \
  "$BRIX" probe --format json
expect_rc 0 "probe with the CUDA runtime only"
checks=$((checks + 1))
jq -e '.status.gpu == "2 GPUs (CUDA runtime)" and .gpus[1].compute_capability == "9.0"
       and ([.warnings[] | select(startswith("NVML: "))] | length) == 1' <<<"$out" >/dev/null || fail "CUDA-only report: $out"
finish
