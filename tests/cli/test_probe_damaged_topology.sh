#!/usr/bin/env bash
# brix probe --topology on a damaged hwloc file (issue 17): values no machine reports are named
# as warnings, never shown as "-" or a made-up figure in silence; a bus id that contradicts its
# bridge (which reorders GPUs and changes their nearest adapters) is named too.
source "$(dirname "$0")/lib.sh"
fixture="$BRIX_SOURCE_DIR/tests/fixtures/hwloc/dgx-h100.xml"

# One change per line of the fixture (sed addresses the first match only).
sed -e '0,/pci_busid="0000:1c:00.0"/s//pci_busid="0000:99:00.0"/' \
    -e '0,/<info name="NVLinkActiveLinks" value="18"\/>/s//<info name="NVLinkActiveLinks" value="-4"\/>/' \
    -e '/pci_busid="0000:44:00.0"/s/pci_link_speed="63.015385"/pci_link_speed="nan"/' \
    -e '0,/<info name="Port1State" value="4"\/>/s//<info name="Port1State" value="banana"\/>/' \
    "$fixture" >"$work/damaged.xml"
checks=$((checks + 1)); ! cmp -s "$fixture" "$work/damaged.xml" || fail "sed changed nothing"

run "$BRIX" probe --topology "$work/damaged.xml"
expect_rc 0 "probe of a damaged topology"
expect_out "PCI 0000:99:00.0 sits under a bridge to buses 0000:\[1c-1c\] \(a corrupted pci_busid\?\)"
expect_out "GPU 0000:[0-9a-f:.]+: NVLinkActiveLinks='-4' is not an integer from 0 to 64"
expect_out "PCI 0000:44:00.0: link speed 'nan' GB/s is not a number >= 0; taken as unknown"
expect_out "adapter mlx5_[0-9]+ port 1: Port1State='banana' is not an integer from 0 to 5"

# The intact fixture has none of them.
run "$BRIX" probe --topology "$fixture"
expect_rc 0 "probe of the intact fixture"
checks=$((checks + 1)); ! grep -qE "corrupted pci_busid|is not an integer from|is not a number >= 0" <<<"$out" || fail "warnings on the intact fixture: $out"
finish
