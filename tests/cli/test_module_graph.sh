#!/usr/bin/env bash
# The module graph check (cmake/check_module_graph.cmake) passes on the tree and fails, naming
# file:line, when a folder includes a header of a folder that is not below it.
source "$(dirname "$0")/lib.sh"
: "${BRIX_BUILD_DIR:?}"
graph="$BRIX_BUILD_DIR/generated/brix-modules.txt"
check() { run cmake -DGRAPH="$graph" -DROOT="$1" -P "$BRIX_SOURCE_DIR/cmake/check_module_graph.cmake"; }

check "$BRIX_SOURCE_DIR/lib/brix"
expect_rc 0 "the check on the tree as it is"

# A copy of the tree with one back-edge: plan (below shard) includes a shard header.
cp -r "$BRIX_SOURCE_DIR/lib/brix" "$work/brix"
echo '#include <brix/shard/nodes.hpp>' >>"$work/brix/plan/layout.cpp"
line=$(wc -l <"$work/brix/plan/layout.cpp")
check "$work/brix"
expect_rc 1 "the check with plan -> shard"
expect_err "plan/layout.cpp:$line: 'plan' includes <brix/shard/...>, but 'shard' is not below 'plan'"

# A transitive use is allowed (launch uses shard, shard uses plan: launch may include plan).
cp -r "$BRIX_SOURCE_DIR/lib/brix" "$work/ok"
echo '#include <brix/model/model.hpp>' >>"$work/ok/launch/agent.cpp"
check "$work/ok"
expect_rc 0 "a transitive dependency"

# A folder that no module declares is refused too (it would not be built).
mkdir "$work/ok/stray" && echo 'int x;' >"$work/ok/stray/x.cpp"
check "$work/ok"
expect_rc 1 "an undeclared folder"
expect_err "lib/brix/stray/: a folder that is no module"

# The build runs the check: a back-edge in the real tree fails the build (a scratch build dir
# that configures the source tree with the back-edge added to a copy).
mkdir -p "$work/src"
cp -r "$BRIX_SOURCE_DIR/CMakeLists.txt" "$BRIX_SOURCE_DIR/cmake" "$BRIX_SOURCE_DIR/lib" "$BRIX_SOURCE_DIR/tools" \
  "$BRIX_SOURCE_DIR/tests" "$BRIX_SOURCE_DIR/kernels" "$work/src/"
echo '#include <brix/recover/recover.hpp>' >>"$work/src/lib/brix/util/strings.cpp"
run cmake -S "$work/src" -B "$work/build" -G Ninja -DBRIX_CUDA=OFF
expect_rc 0 "configure the copy"
run cmake --build "$work/build" --target brix_util
expect_rc 1 "building brix_util with util -> recover"
expect_out "util/strings.cpp:[0-9]+: 'util' includes <brix/recover/...>"
finish
