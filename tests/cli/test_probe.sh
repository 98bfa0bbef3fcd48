#!/usr/bin/env bash
# brix probe on this machine (no GPU driver, no RDMA here: reported, exit 0), on the DGX fixtures
# through HWLOC_XMLFILE and --topology, the matrix, the NCCL topology XML, --out, merge and drift,
# and bad input (one line, exit 2).
source "$(dirname "$0")/lib.sh"
fixtures="$BRIX_SOURCE_DIR/tests/fixtures/hwloc"
have() { command -v "$1" >/dev/null 2>&1 || { echo "skip: $1 not installed, $2 not checked"; return 1; }; }

# --- this machine -------------------------------------------------------------------------------
run env -u HWLOC_XMLFILE -u SLURMD_NODENAME "$BRIX" probe
expect_rc 0 "probe on this machine"; expect_out '\(name from hostname; topology: live\)'
if [ ! -e /proc/driver/nvidia/version ]; then expect_out 'gpus +no GPU driver \('; fi
if [ ! -e /sys/class/infiniband ]; then expect_out 'rdma +no RDMA \(ibv_get_device_list'; fi

run env -u HWLOC_XMLFILE "$BRIX" probe --format json
expect_rc 0 "probe --format json"
if have jq "JSON output"; then
  checks=$((checks + 1)); jq -e '.brix_probe == 1 and (.gpus | type == "array") and (.nics | type == "array") and (.status.gpu | length > 0)' <<<"$out" >/dev/null || fail "json keys: $out"
fi

run env -u HWLOC_XMLFILE SLURMD_NODENAME=probe-test-node "$BRIX" probe --format yaml
expect_rc 0 "probe --format yaml"; expect_out '^name: probe-test-node$'; expect_out '^node_groups:'
expect_out '^    hosts: \[probe-test-node\]$'; expect_out '^    topology:$'

# --- fixtures -----------------------------------------------------------------------------------
run env HWLOC_XMLFILE="$fixtures/dgx-h100.xml" "$BRIX" probe --format json
expect_rc 0 "HWLOC_XMLFILE=dgx-h100.xml"
if have jq "fixture JSON"; then
  checks=$((checks + 1))
  jq -e '(.gpus | length) == 8 and .gpus[0].model == "NVIDIA H100 80GB HBM3" and .gpus[0].pci_bus_id == "0000:1c:00.0"
         and .gpus[0].numa_node == 0 and .gpus[0].pcie_width == 16
         and ([.gpus[] | .nearest_nics[0].path] | all(. == "PIX"))
         and ([.gpus[] | .nearest_nics[0].name] == ["mlx5_0","mlx5_1","mlx5_2","mlx5_3","mlx5_4","mlx5_5","mlx5_6","mlx5_7"])
         and .gpus[0].nearest_nics[-1].path == "SYS"
         and (.nics | length) == 10 and .nics[0].name == "mlx5_0" and .nics[0].port_state == "ACTIVE"
         and .nics[0].link_layer == "InfiniBand" and .nics[0].rate_gbps == 400 and .nics[0].firmware == "28.39.1002"' \
    <<<"$out" >/dev/null || fail "dgx-h100 JSON does not hold the expected GPUs and adapters"
fi

run "$BRIX" probe --topology "$fixtures/dgx-h100-faulty.xml"
expect_rc 0 "faulty fixture"; expect_out 'Gen5 x8 \(of x16\)'; expect_out 'mlx5_3 +0000:60:00.0 +0 +DOWN'
expect_out 'PCIe link x8, expected x16'; expect_out 'mlx5_3: port 1 DOWN'

# Without GPUs and adapters the matrix says so, and the NCCL XML still describes the CPUs.
if [ ! -e /proc/driver/nvidia/version ] && [ ! -e /sys/class/infiniband ]; then
  run env -u HWLOC_XMLFILE "$BRIX" probe --matrix
  expect_rc 0 "matrix without GPUs"; expect_out '^No GPUs and no RDMA adapters found on '
  run env -u HWLOC_XMLFILE "$BRIX" probe --nccl-topo "$work/cpu-only.xml"
  expect_rc 0 "--nccl-topo without GPUs"; expect_err 'no GPUs found: it describes the CPUs and adapters only'
  checks=$((checks + 1)); grep -q '^  <cpu numaid="[0-9]*" affinity="[0-9a-f,]*" arch=' "$work/cpu-only.xml" || fail "no <cpu> in $(cat "$work/cpu-only.xml")"
fi

run "$BRIX" probe --topology "$fixtures/dgx-a100.xml" --matrix
expect_rc 0 "matrix"; expect_out '^ +GPU0 +GPU1 .* NIC9 +CPU Affinity +NUMA Affinity$'
expect_out '^GPU0 +X +NV12 .*PXB +PXB +NODE +NODE +SYS +SYS +SYS +SYS +NODE +SYS +0-63,128-191 +0$'
expect_out '^NIC0 +PXB +PXB .* X +PIX '; expect_out '^  NIC9: mlx5_9$'; expect_out 'PIX  = Connection traversing at most a single PCIe bridge'

# --- NCCL topology XML --------------------------------------------------------------------------
run "$BRIX" probe --topology "$fixtures/dgx-h100.xml" --nccl-topo "$work/%h-topo.xml" --format json
expect_rc 0 "--nccl-topo"; expect_err 'wrote NCCL topology .*/dgx-h100-topo.xml'
topo="$work/dgx-h100-topo.xml"
checks=$((checks + 1)); [ -s "$topo" ] || fail "no NCCL topology written"
checks=$((checks + 1)); head -c 20 "$topo" | grep -q '^<system version="1">' || fail "NCCL XML must start with <system version=\"1\"> (NCCL's parser takes no declaration)"
if have xmllint "NCCL XML parse-back"; then
  xpath() { xmllint --xpath "$1" "$topo" 2>/dev/null; }
  checks=$((checks + 1)); xmllint --noout "$topo" || fail "NCCL XML is not well-formed"
  for query in 'count(/system/cpu)=2' 'count(//gpu)=8' 'count(//net)=10' 'count(//nvlink)=8' \
               'count(//cpu[not(@numaid) or not(@affinity) or not(@arch) or not(@vendor) or not(@familyid) or not(@modelid)])=0' \
               'count(//pci[not(@busid) or not(@class) or not(@vendor) or not(@device) or not(@link_speed) or not(@link_width)])=0' \
               'count(//gpu[not(@dev) or not(@sm) or not(@rank) or not(@gdr)])=0' \
               'count(//nvlink[not(@target) or not(@count) or not(@tclass)])=0' \
               'count(//net[not(@name) or not(@dev) or not(@speed) or not(@port) or not(@latency) or not(@guid) or not(@maxconn)])=0' \
               'count(//gpu[not(parent::pci)])=0' 'count(//net[not(parent::nic/parent::pci)])=0' \
               '//pci[gpu/@dev="0"]/../pci/nic/net/@name="mlx5_0"' '//net[@name="mlx5_0"]/@speed="400000"'; do
    checks=$((checks + 1)); [ "$(xpath "boolean($query)")" = "true" ] || fail "NCCL XML: $query"
  done
fi

# --- many nodes: --out, merge, drift ------------------------------------------------------------
probes="$work/probes"
for n in 1 2 3; do
  run env SLURMD_NODENAME="node00$n" HWLOC_XMLFILE="$fixtures/dgx-h100.xml" "$BRIX" probe --out "$probes"
  expect_rc 0 "--out node00$n"; expect_out "^wrote $probes/node00$n.yaml \(node name from SLURMD_NODENAME\)$"
done
run env SLURMD_NODENAME=node004 "$BRIX" probe --topology "$fixtures/dgx-h100-faulty.xml" --out "$probes"
expect_rc 0 "--out node004"
run env -u SLURMD_NODENAME "$BRIX" probe --topology "$fixtures/dgx-a100.xml" --out "$probes"
expect_rc 0 "--out without SLURMD_NODENAME"; expect_out "^wrote $probes/dgx-a100.yaml \(node name from topology file\)$"

run "$BRIX" probe merge "$probes" -o "$work/cluster.yaml"
expect_rc 0 "merge without --strict"; expect_out '^5 nodes in 3 groups$'
expect_out '^  h100-sxm +3 +8 +NVIDIA H100 80GB HBM3 +8 × 400 Gb/s +node001,node002,node003$'
# node004's adapter is down: ranks there are bound by its own topology, so it is a group of its own.
expect_out '^  h100-sxm-2 +1 +8 +NVIDIA H100 80GB HBM3 +7 × 400 Gb/s \(1 down\) +node004$'
expect_out '^note: group h100-sxm-2: node004 split from group h100-sxm'
expect_out '^  a100-sxm-80gb +1 +8 '
expect_out 'Drift: 1 node differs'; expect_out 'node004 +h100-sxm +GPU 0000:c4:00.0 PCIe width +x8 +x16'
expect_out 'node004 +h100-sxm +mlx5_3 port state +DOWN +ACTIVE'; expect_out 'node004 +h100-sxm +mlx5_3 rate +10 Gb/s +400 Gb/s'
checks=$((checks + 1)); grep -q '^    hosts: \[node001, node002, node003\]$' "$work/cluster.yaml" || fail "cluster.yaml lacks the hosts"
checks=$((checks + 1)); grep -q '^    gpu: h100-sxm$' "$work/cluster.yaml" || fail "cluster.yaml lacks gpu: h100-sxm"

run "$BRIX" probe merge "$probes" --strict
expect_rc 1 "merge --strict with drift"

# --format json with --out writes <node>.json (the report --format json prints); merge reads it.
mkdir -p "$work/json-probes"; cp "$probes/node001.yaml" "$work/json-probes/"
run env SLURMD_NODENAME=node009 "$BRIX" probe --topology "$fixtures/dgx-h100-faulty.xml" --out "$work/json-probes" --format json
expect_rc 0 "--out --format json"; expect_out "^wrote $work/json-probes/node009.json \(node name from SLURMD_NODENAME\)$"
checks=$((checks + 1)); [ ! -e "$work/json-probes/node009.yaml" ] || fail "--format json wrote YAML too"
checks=$((checks + 1)); python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["brix_probe"] == 1 and d["host"] == "node009"' \
  "$work/json-probes/node009.json" || fail "node009.json is not the JSON report"
run "$BRIX" probe merge "$work/json-probes"
expect_rc 0 "merge of a JSON probe file"; expect_out '^2 nodes in 2 groups$'; expect_out 'node009 +h100-sxm +mlx5_3 port state +DOWN'

# Disk firmware and driver drift, from a copy of the fixture with another NVMe firmware and driver.
sed -e 's/value="EPK9CB5Q"/value="EPK9AB5Q"/' -e 's/name="NVIDIADriverVersion" value="550.54.15"/name="NVIDIADriverVersion" value="535.104.05"/' \
  "$fixtures/dgx-h100.xml" >"$work/dgx-h100-old.xml"
run env SLURMD_NODENAME=node005 "$BRIX" probe --topology "$work/dgx-h100-old.xml" --out "$probes"
run "$BRIX" probe merge "$probes" --format json
expect_rc 0 "merge --format json"
if have jq "merge JSON"; then
  checks=$((checks + 1))
  jq -e '.drifting_nodes == 2 and ([.drift[] | select(.host == "node005") | .what] | index("disk nvme1n1 firmware") != null)
         and ([.drift[] | select(.host == "node005" and .what == "NVIDIA driver")][0].majority == "550.54.15")
         and (.cluster.node_groups | length) == 3' <<<"$out" >/dev/null || fail "merge JSON drift: $out"
fi

# Identical nodes only: no drift, --strict exits 0; the merged file is read back by merge itself.
mkdir -p "$work/clean"; cp "$probes"/node00[123].yaml "$work/clean/"
run "$BRIX" probe merge "$work/clean" --strict
expect_rc 0 "merge --strict without drift"; expect_out 'No drift'
run "$BRIX" probe merge "$work/cluster.yaml"
expect_rc 2 "merged cluster file is not a probe file"; expect_err 'a merged cluster file'; expect_one_line_err

# --- bad input ----------------------------------------------------------------------------------
run "$BRIX" probe --topology "$work/missing.xml"
expect_rc 2 "missing topology"; expect_err 'missing.xml: cannot open topology file'; expect_one_line_err
printf '<?xml version="1.0"?>\n<topology version="2.0">\n  <object type="Machine"\n' >"$work/broken.xml"
run "$BRIX" probe --topology "$work/broken.xml"
expect_rc 2 "malformed topology"; expect_err 'broken.xml:4: the file ends inside the tag <object>'; expect_one_line_err
# Well-formed, but not what hwloc reads: hwloc's own refusal.
printf '<?xml version="1.0"?>\n<html><body/></html>\n' >"$work/not-hwloc.xml"
run "$BRIX" probe --topology "$work/not-hwloc.xml"
expect_rc 2 "topology hwloc refuses"; expect_err 'not-hwloc.xml: hwloc cannot load this topology'; expect_one_line_err
run env HWLOC_XMLFILE="$work/missing.xml" "$BRIX" probe
expect_rc 2 "HWLOC_XMLFILE missing"; expect_err '^brix: error: HWLOC_XMLFILE: .*missing.xml: cannot open'; expect_one_line_err
run "$BRIX" probe merge "$work/no-such-dir"
expect_rc 2 "merge of a missing directory"; expect_err 'no-such-dir: no such file or directory'; expect_one_line_err
mkdir -p "$work/empty"
run "$BRIX" probe merge "$work/empty"
expect_rc 2 "merge of an empty directory"; expect_err 'no probe files in this directory'; expect_one_line_err
printf 'brix_probe: 1\nhost: [x\n' >"$work/empty/bad.yaml"
run "$BRIX" probe merge "$work/empty"
expect_rc 2 "merge of a malformed file"; expect_err 'bad.yaml:[0-9]+:'; expect_one_line_err
if [ "$(id -u)" != 0 ]; then
  mkdir -p "$work/locked" && chmod 000 "$work/locked"
  run "$BRIX" probe merge "$work/locked"
  expect_rc 2 "merge of an unreadable directory"; expect_err 'cannot read directory'; expect_one_line_err
  chmod 700 "$work/locked"
else
  echo "skip: running as root, an unreadable directory cannot be made"
fi
run "$BRIX" probe --matrix --out "$work/x"
expect_rc 2 "--matrix with --out"; expect_one_line_err
run "$BRIX" probe --topology "$fixtures/dgx-h100.xml" --nccl-topo "$work/no/such/dir/topo.xml"
expect_rc 2 "--nccl-topo into a missing directory"; expect_err 'cannot write'; expect_one_line_err

# --- the man page renders without warnings ------------------------------------------------------
if have man "man page"; then
  run env MANWIDTH=100 man -l "$BRIX_SOURCE_DIR/man/brix-probe.1"
  expect_rc 0 "man -l man/brix-probe.1"; expect_out 'NCCL_TOPO_FILE'
  checks=$((checks + 1)); [ -z "$err" ] || fail "man page warnings: $err"
fi

finish
