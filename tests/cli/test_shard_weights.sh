#!/usr/bin/env bash
# brix shard weights / merge on a small Llama-shaped checkpoint written here: shard files,
# bit-exact round trip, and bad input (one line, exit 2, nothing left behind).
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "skip: python3 is needed to write the test checkpoint"; exit 77; }

source "$(dirname "$0")/tiny_checkpoint.sh"

# A plan for the checkpoint in $2 with layout $3.
make_plan() {
  cat >"$1" <<YAML
brix_plan: 1
model: {name: tiny, source: $2/config.json}
cluster: {name: none, source: ""}
seq_len: 2048
batch: {global: 8, micro: 1, accumulation: 8}
layout: $3
YAML
}

# nothing_left OUT: neither OUT nor a temporary beside it.
nothing_left() {
  checks=$((checks + 1))
  if [ -e "$1" ] || compgen -G "$1.tmp.*" >/dev/null; then fail "output left behind for $1"; fi
}

make_checkpoint "$work/hf"
make_plan "$work/plan.yaml" "$work/hf" "{tp: 2, pp: 2, dp: 1}"

run "$BRIX" shard weights --plan "$work/plan.yaml" --in "$work/hf" --out "$work/shards" --threads 2
expect_rc 0 "weights"; expect_out '^wrote .*shards: 4 files'
checks=$((checks + 1)); [ "$(ls "$work/shards" | sort | tr '\n' ' ')" = "brix-shards.json model-pp000-tp00-ep000.safetensors model-pp000-tp01-ep000.safetensors model-pp001-tp00-ep000.safetensors model-pp001-tp01-ep000.safetensors " ] || fail "shard files: $(ls "$work/shards")"

run "$BRIX" shard merge --in "$work/shards" --out "$work/back" --format json
expect_rc 0 "merge"; expect_out '"files": 3'
for f in "$work"/hf/*.safetensors "$work/hf/model.safetensors.index.json"; do
  checks=$((checks + 1)); cmp -s "$f" "$work/back/$(basename "$f")" || fail "not bit-exact: $(basename "$f")"
done

# The output folder exists: refused, untouched.
run "$BRIX" shard weights --plan "$work/plan.yaml" --in "$work/hf" --out "$work/shards"
expect_rc 2 "existing out"; expect_one_line_err; expect_err 'already exists'

# Bad checkpoints. Each gets a fresh copy, and must leave no output.
bad() { rm -rf "$work/bad"; cp -r "$work/hf" "$work/bad"; }
second="$work/bad/model-00002-of-00002.safetensors"

bad; truncate -s -7 "$second"
run "$BRIX" shard weights --plan "$work/plan.yaml" --in "$work/bad" --out "$work/o1"
expect_rc 2 "truncated"; expect_one_line_err; nothing_left "$work/o1"
# Every message: brix: error: <file>[:<line>]: <what> (<what was expected>)
expect_err "^brix: error: $second: tensor '[^']+': data_offsets \[[0-9]+, [0-9]+\] run past the end of the data \([0-9]+ bytes\) \(truncated file or corrupt header\)\$"

bad; printf '\xff\xff\xff\xff\x00\x00\x00\x00' | dd of="$second" bs=1 seek=0 conv=notrunc status=none
run "$BRIX" shard weights --plan "$work/plan.yaml" --in "$work/bad" --out "$work/o2"
expect_rc 2 "header length"; expect_one_line_err; nothing_left "$work/o2"
expect_err "^brix: error: $second: header length 4294967295 runs past the end of the file \([0-9]+ bytes\) \(truncated or not a safetensors file\)\$"

# A FIFO in place of a shard file or of config.json: refused at once, never a blocking open().
for victim in "$second" "$work/bad/config.json"; do
  bad; rm "$victim"; mkfifo "$victim"
  run timeout 20 "$BRIX" shard weights --plan "$work/plan.yaml" --in "$work/bad" --out "$work/o11"
  expect_rc 2 "FIFO $(basename "$victim")"; expect_one_line_err; nothing_left "$work/o11"
  expect_err "^brix: error: $victim: cannot open the file.*is a FIFO, not a regular file"
done

# Rewrite one header (of $2, default the second file): overlapping offsets, a dtype that disagrees
# with the shape, malformed JSON, a q_proj with the right bytes but not the config's shape.
patch_header() {
  python3 - "${2:-$second}" "$1" <<'PY'
import json, struct, sys
path, how = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
names = [k for k in header if k != "__metadata__"]
if how == "overlap":
    header[names[1]]["data_offsets"][0] -= 2
    header[names[1]]["data_offsets"][1] -= 2
    header[names[1]]["shape"] = header[names[1]]["shape"]
elif how == "dtype":
    header[names[0]]["dtype"] = "F32"
elif how == "qshape":
    header["model.layers.0.self_attn.q_proj.weight"]["shape"] = [32, 128]
text = json.dumps(header).encode()
if how == "badjson":
    text = json.dumps(header, indent=1).encode()[:-1]  # no closing brace, on line > 1
text += b" " * (-len(text) % 8)
open(path, "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
PY
}
bad; patch_header overlap
run "$BRIX" shard weights --plan "$work/plan.yaml" --in "$work/bad" --out "$work/o3"
expect_rc 2 "overlap"; expect_one_line_err; nothing_left "$work/o3"
expect_err "^brix: error: $second: tensors '[^']+' and '[^']+' overlap \(data_offsets \[[0-9]+, [0-9]+\] and \[[0-9]+, [0-9]+\]\) \(each tensor's bytes start where the previous tensor's end\)\$"

bad; patch_header dtype
run "$BRIX" shard weights --plan "$work/plan.yaml" --in "$work/bad" --out "$work/o4"
expect_rc 2 "dtype/shape"; expect_one_line_err; nothing_left "$work/o4"
expect_err "^brix: error: $second: tensor '[^']+': dtype F32 and shape \[[0-9, ]+\] need [0-9]+ bytes but data_offsets \[[0-9]+, [0-9]+\] hold [0-9]+ \(data_offsets spanning the elements of the shape times the dtype's size\)\$"

bad; patch_header badjson
run "$BRIX" shard weights --plan "$work/plan.yaml" --in "$work/bad" --out "$work/o9"
expect_rc 2 "malformed header"; expect_one_line_err; nothing_left "$work/o9"
expect_err "^brix: error: $second:[0-9]+: malformed header JSON: syntax error while parsing object - unexpected end of input; expected '}' \(\{\"tensor\": .*\)\$"
checks=$((checks + 1)); ! grep -q 'line [0-9]*, column' <<<"$err" || fail "the line is inside the message: $err"

# A tensor with the bytes of its role but not the shape config.json gives it (q_proj is [64, 64]).
bad; patch_header qshape "$work/bad/model-00001-of-00002.safetensors"
run "$BRIX" shard weights --plan "$work/plan.yaml" --in "$work/bad" --out "$work/o10"
expect_rc 2 "shape against config"; expect_one_line_err; nothing_left "$work/o10"
expect_err "^brix: error: $work/bad/model-00001-of-00002.safetensors: tensor 'model.layers.0.self_attn.q_proj.weight': shape \[32, 128\] does not match the model config \(expected \[64, 64\] = \[heads × head_dim, hidden\] from $work/bad/config.json\)\$"

bad; echo '{"weight_map": {' >"$work/bad/model.safetensors.index.json"
run "$BRIX" shard weights --plan "$work/plan.yaml" --in "$work/bad" --out "$work/o5"
expect_rc 2 "malformed index"; expect_one_line_err; nothing_left "$work/o5"
expect_err "^brix: error: $work/bad/model.safetensors.index.json:2: malformed JSON: syntax error while parsing object key - unexpected end of input; expected string literal \(\{\"metadata\": \{...\}, \"weight_map\": \{tensor: file\}\}\)\$"

# A tensor the plan cannot place.
make_checkpoint "$work/odd" "model.layers.0.self_attn.rotary_mystery.weight"
make_plan "$work/odd.yaml" "$work/odd" "{tp: 2, pp: 2, dp: 1}"
run "$BRIX" shard weights --plan "$work/odd.yaml" --in "$work/odd" --out "$work/o6"
expect_rc 2 "unknown tensor"; expect_one_line_err
expect_err "^brix: error: $work/odd/model-00002-of-00002.safetensors: tensor 'model.layers.0.self_attn.rotary_mystery.weight': no known parallel role \(model [^)]+\) \(brix places the Llama/Mistral/Qwen/Mixtral/DeepSeek tensor names of transformers\)\$"
nothing_left "$work/o6"

# A split that cuts heads: 2 kv heads over tp 4.
make_plan "$work/tp4.yaml" "$work/hf" "{tp: 4, pp: 1, dp: 1}"
run "$BRIX" shard weights --plan "$work/tp4.yaml" --in "$work/hf" --out "$work/o7"
expect_rc 2 "heads"; expect_one_line_err; nothing_left "$work/o7"
expect_err "^brix: error: $work/hf/model-0000[12]-of-00002.safetensors: tensor 'model.layers.0.self_attn.k_proj.weight': 32 rows of 16 per head do not split into 4 parts of whole heads \(2 heads\) \(the number of heads must be a multiple of the tensor-parallel size\)\$"

# A shard that does not match the index: merge refuses before writing.
cp -r "$work/shards" "$work/shards2"
python3 - "$work/shards2/brix-shards.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["source"]["files"][0]["tensors"][0]["shape"][0] *= 2
json.dump(doc, open(sys.argv[1], "w"))
PY
run "$BRIX" shard merge --in "$work/shards2" --out "$work/o8"
expect_rc 2 "merge mismatch"; expect_one_line_err; expect_err 'the index expects'; nothing_left "$work/o8"

# One flipped byte of tensor data in a shard: merge names the shard and the tensor, writes nothing
# (it used to rebuild a "bit-for-bit original" that was not).
rm -rf "$work/shards3"; cp -r "$work/shards" "$work/shards3"
victim="$work/shards3/model-pp001-tp01-ep000.safetensors"
size=$(stat -c %s "$victim")
byte=$(od -An -tu1 -j $((size - 1)) -N1 "$victim" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$victim" bs=1 seek=$((size - 1)) conv=notrunc status=none
run "$BRIX" shard merge --in "$work/shards3" --out "$work/o12"
expect_rc 2 "merge of a flipped byte"; expect_one_line_err; nothing_left "$work/o12"
expect_err "^brix: error: $victim: tensor '[^']+' \(piece [0-9]+ of [0-9]+\) does not match the XXH3-128 checksum in brix-shards\.json"

finish
