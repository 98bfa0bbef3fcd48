#!/usr/bin/env bash
# brix recover verify/list never report success on a store they cannot read (issue 17): a
# `latest` that is a directory, a FIFO or a symbolic link loop, a manifest rewritten with a
# negative step; and list exits 1 when there is nothing to resume from (brix-recover(1)).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/launch_lib.sh"
cd "$work"

run "$WORKER" checkpoint-stress --dir "$work/s" --bytes 65536 --chunk 4096 --saves 2 --keep 0
expect_rc 0 "stress writer"
run "$BRIX" recover verify "$work/s"
expect_rc 0 "verify the intact store"

good_latest=$(cat "$work/s/latest")
damage_latest() { # damage_latest KIND: replaces `latest` with something that is not a regular file
  rm -rf "$work/s/latest"
  case $1 in
    directory) mkdir "$work/s/latest" ;;
    fifo) mkfifo "$work/s/latest" ;;
    loop) ln -s latest "$work/s/latest" ;;
  esac
}
for kind in directory fifo loop; do
  damage_latest "$kind"
  for flag in "" --latest; do
    run timeout 20 "$BRIX" recover verify "$work/s" $flag
    expect_rc 1 "verify $flag with latest a $kind"
    expect_err "latest: not a regular file"
    checks=$((checks + 1)); ! grep -q "every hash matches" <<<"$out" || fail "'ok' printed with latest a $kind: $out"
  done
done
rm -rf "$work/s/latest"; echo "$good_latest" >"$work/s/latest"

# A manifest rewritten with step -5 and its self-hash recomputed: refused, not "ok".
python3 - "$work/s/manifests/step_0000000001.json" <<'PY'
import hashlib, json, sys
path = sys.argv[1]
doc = json.load(open(path))
del doc["manifest_sha256"]
doc["step"] = -5
body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
doc["manifest_sha256"] = hashlib.sha256(body.encode()).hexdigest()
json.dump(doc, open(path, "w"), indent=1)
PY
run "$BRIX" recover verify "$work/s"
expect_rc 1 "verify with a step -5 manifest"
expect_err "manifest step -5 is negative"

# list: exit 1 when there is no complete checkpoint (none, or every one damaged), 0 otherwise.
mkdir "$work/empty"
run "$BRIX" recover list "$work/empty"
expect_rc 1 "list of a directory without checkpoints"
expect_err "^brix: error: .*empty: no checkpoint found"
expect_one_line_err
run "$BRIX" recover list "$work/s"
expect_rc 0 "list with step 0 still complete"
for chunk in "$work"/s/chunks/*/*; do truncate -s 1 "$chunk"; done
run "$BRIX" recover list "$work/s"
expect_rc 1 "list with every checkpoint damaged"
expect_err "^brix: error: .*: no complete checkpoint among"
expect_one_line_err
finish
