#!/usr/bin/env python3
"""Writes the generated cases of the bad-input corpus (files named gen-*): each takes a good
input of its class and breaks one thing, a value (negative, zero, text, a list, huge, NaN...), a
key, the structure or the encoding. Hand-written cases sit beside them without the prefix.
Run from the repository root; it rewrites only gen-* files. A mutation that turns out to be a
valid input is listed in VALID below and not written."""
import hashlib
import json
import os
import struct

ROOT = "tests/bad_input"

# Values that break a number (the key decides which of them are wrong: 0 is fine for some).
# (null is no bad value: it means "not given", which optional keys allow; required keys get
# hand-written null cases.)
BAD_NUMBERS = {"neg": "-1", "text": "abc", "list": "[1, 2]", "map": "{a: 1}", "float": "1.5",
               "huge": "99999999999999999999999", "nan": ".nan", "bool": "true", "empty": '""'}
BAD_JSON_NUMBERS = {"neg": "-1", "text": '"abc"', "list": "[1, 2]", "map": '{"a": 1}',
                    "float": "1.5", "huge": "99999999999999999999999", "bool": "true", "zero": "0",
                    "i64max": "9223372036854775807", "i32max": "2147483647"}

# Mutations that are valid inputs after all (checked by running brix on them).
VALID = set()


def write(cls, name, data):
    path = os.path.join(ROOT, cls, f"gen-{name}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def clear(cls):
    folder = os.path.join(ROOT, cls)
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.startswith("gen-"):
                os.remove(os.path.join(folder, name))


def yaml_mutants(cls, stem, text, keys, values, suffix=".yaml"):
    """For every `key: value` line whose key is in `keys`, one case per bad value."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip().lstrip("- ")
        key = stripped.split(":", 1)[0]
        if ":" not in stripped or key not in keys:
            continue
        indent = line[: len(line) - len(line.lstrip())] + ("- " if line.strip().startswith("- ") else "")
        for tag, value in values.items():
            name = f"{stem}-{key}-{tag}{suffix}"
            if name in VALID or f"{key}-{tag}" in keys.get(key, ()):
                continue
            mutated = lines[:index] + [f"{indent}{key}: {value}"] + lines[index + 1:]
            write(cls, name, "\n".join(mutated) + "\n")


def json_mutants(cls, stem, document, keys, values):
    for key in keys:
        for tag, value in values.items():
            if f"{key}-{tag}" in keys.get(key, ()):
                continue
            text = json.dumps(document, indent=2)
            text = text.replace(f'"{key}": {json.dumps(document[key])}', f'"{key}": {value}', 1)
            write(cls, f"{stem}-{key}-{tag}.json", text + "\n")


def first_value_line(text):
    """Index of the first `key: scalar` line that is not a comment."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if ": " in line and not line.lstrip().startswith(("#", "-", "{")) and not line.rstrip().endswith(("[", "{", ":")):
            return lines, index
    return lines, 0


def structural(cls, stem, text, suffix, unknown_keys_refused=True):
    """Broken syntax, encoding and shape, the same for every YAML/JSON class."""
    lines, at = first_value_line(text)
    head, value = lines[at].split(": ", 1)
    def with_line(new):
        return "\n".join(lines[:at] + [new] + lines[at + 1:]) + "\n"
    write(cls, f"{stem}-empty{suffix}", "")
    write(cls, f"{stem}-comment-only{suffix}", "# nothing here\n")
    write(cls, f"{stem}-truncated{suffix}", text[: len(text) // 2])
    write(cls, f"{stem}-unbalanced{suffix}", with_line(f"{head}: [{value}"))
    write(cls, f"{stem}-tab-indent{suffix}", with_line(f"{head}:\n\tnested: {value}"))
    write(cls, f"{stem}-list{suffix}", "- 1\n- 2\n")
    write(cls, f"{stem}-scalar{suffix}", "just text\n")
    write(cls, f"{stem}-latin1{suffix}", text.encode() + b"\nname_\xe9: 1\n")
    write(cls, f"{stem}-invalid-utf8-value{suffix}", with_line(f"{head}: \"\udcff\udcfe\"").encode(errors="surrogateescape"))
    write(cls, f"{stem}-nul-byte{suffix}", with_line(f"{head}: {value[:1]}\0{value[1:]}"))
    write(cls, f"{stem}-escape-byte{suffix}", with_line(f"{head}: \x1b[31m{value}"))
    write(cls, f"{stem}-binary{suffix}", bytes(range(256)) * 4)
    write(cls, f"{stem}-deep-nesting{suffix}", "a: " + "[" * 5000 + "]" * 5000 + "\n")
    write(cls, f"{stem}-alias-bomb{suffix}",
          "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
              f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
              f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8)))
    if unknown_keys_refused:
        write(cls, f"{stem}-unknown-key{suffix}", text.rstrip("\n") + "\nnot_a_key: 1\n")
    # The first key again right after itself (a JSON line keeps its comma).
    line = lines[at] if lines[at].rstrip().endswith(",") or not text.lstrip().startswith("{") else lines[at] + ","
    write(cls, f"{stem}-duplicate-key{suffix}", "\n".join(lines[: at + 1] + [line] + lines[at + 1:]) + "\n")
    write(cls, f"{stem}-second-document{suffix}", text.rstrip("\n") + "\n---\n" + lines[at].strip().rstrip(",") + "\n")
    write(cls, f"{stem}-trailing-garbage{suffix}", text.rstrip("\n") + "\n} ]\n")
    write(cls, f"{stem}-bom-then-garbage{suffix}", b"\xef\xbb\xbf" + b"{{{{\n")


def models():
    clear("model")
    gpt = open("configs/models/gpt-1.7b.yaml").read()
    keys = {k: () for k in ("hidden", "layers", "heads", "vocab", "seq_len")}
    yaml_mutants("model", "gpt", gpt, keys, dict(BAD_NUMBERS, zero="0"))
    structural("model", "gpt", gpt, ".yaml")
    write("model", "gpt-layers-null.yaml", gpt.replace("layers: 24", "layers: ~"))
    write("model", "gpt-hidden-null.yaml", gpt.replace("hidden: 2304", "hidden: ~"))
    write("model", "gpt-family-unknown.yaml", gpt.replace("family: gpt", "family: transformer-xl"))
    write("model", "gpt-version-2.yaml", gpt.replace("brix_model: 1", "brix_model: 2"))
    write("model", "gpt-heads-not-dividing.yaml", gpt.replace("heads: 24", "heads: 7"))
    llama = json.load(open("configs/models/llama-3.1-8b.json"))
    keys = {k: () for k in ("hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers",
                            "num_key_value_heads", "vocab_size", "max_position_embeddings")}
    json_mutants("model", "llama", llama, keys, BAD_JSON_NUMBERS)
    structural("model", "llama", json.dumps(llama, indent=2), ".json")
    write("model", "llama-model-type-number.json", json.dumps(dict(llama, model_type=7)))
    write("model", "llama-kv-heads-not-dividing.json", json.dumps(dict(llama, num_key_value_heads=5)))
    deepseek = json.load(open("configs/models/deepseek-r1.json"))
    keys = {k: () for k in ("n_routed_experts", "num_experts_per_tok", "moe_intermediate_size", "kv_lora_rank",
                            "qk_rope_head_dim", "first_k_dense_replace", "moe_layer_freq", "n_shared_experts")}
    json_mutants("model", "deepseek", deepseek, keys,
                 {k: v for k, v in BAD_JSON_NUMBERS.items() if k in ("neg", "text", "list", "huge", "float", "null")})
    write("model", "deepseek-topk-over-experts.json", json.dumps(dict(deepseek, num_experts_per_tok=1000)))
    write("model", "deepseek-dense-over-layers.json", json.dumps(dict(deepseek, first_k_dense_replace=100)))


def clusters():
    clear("cluster")
    text = open("configs/clusters/example-annotated.yaml").read()
    text = "\n".join(line.split("  #", 1)[0].rstrip() for line in text.splitlines()) + "\n"
    keys = {k: () for k in ("nodes", "gpus_per_node", "memory_gib", "bf16_tflops", "domain", "gb_per_s",
                            "count", "gbps", "intra_busbw_gb_per_s", "oversubscription", "write_gb_per_s")}
    counts = {k: () for k in ("nodes", "gpus_per_node", "domain", "count")}
    figures = {k: () for k in keys if k not in counts}
    yaml_mutants("cluster", "annotated", text, counts,
                 {k: v for k, v in dict(BAD_NUMBERS, zero="0").items() if k in ("neg", "text", "list", "huge", "zero")})
    # A huge figure (1e23 TFLOP/s) is absurd but harmless: the figures get no "huge" case.
    yaml_mutants("cluster", "annotated", text, figures,
                 {k: v for k, v in dict(BAD_NUMBERS, zero="0").items() if k in ("neg", "text", "list", "nan", "zero")})
    structural("cluster", "annotated", text, ".yaml")
    write("cluster", "unknown-gpu.yaml", text.replace("gpu: h100-sxm", "gpu: h100-sxn"))
    write("cluster", "unknown-shape.yaml", text.replace("shape: rail-optimized", "shape: torus"))
    write("cluster", "no-groups.yaml", "name: x\nnode_groups: []\n")
    write("cluster", "groups-not-list.yaml", "name: x\nnode_groups: {a: 1}\n")
    write("cluster", "duplicate-group-name.yaml", text.replace("name: a100-edr", "name: dgx-h100"))
    write("cluster", "hosts-count-mismatch.yaml", text.replace("node003, node004", "node003"))
    write("cluster", "gpu-overflow.yaml",
          "name: big\nnode_groups:\n  - name: g\n    nodes: 5000000\n    gpu: h100-sxm\n    gpus_per_node: 1000000\n")


def plans():
    clear("plan")
    text = open(os.path.join(ROOT, "good", "plan.yaml")).read()
    for key in ("seq_len", "global", "micro", "accumulation", "tp", "pp", "dp", "ep", "etp", "cp", "micro_batch",
                "vpp", "zero"):
        for tag, value in {"neg": "-1", "zero": "0", "text": "abc", "huge": "99999999999999999999",
                           "list": "[1]"}.items():
            if key in ("zero",) and tag == "zero":
                continue
            # keys sit in flow mappings: replace `key: N` inside them
            import re
            mutated, count = re.subn(rf"(?<![a-z_]){key}: [0-9]+", f"{key}: {value}", text, count=1)
            if count:
                write("plan", f"plan-{key}-{tag}.yaml", mutated)
    for key, bad in (("schedule", "2f2b"), ("recompute", "some"), ("precision", "fp4"), ("grad_compression", "zip"),
                     ("sp", "maybe")):
        import re
        write("plan", f"plan-{key}-unknown.yaml", re.sub(rf"{key}: [a-z0-9]+", f"{key}: {bad}", text, count=1))
    structural("plan", "plan", text, ".yaml")
    write("plan", "plan-version-9.yaml", text.replace("brix_plan: 1", "brix_plan: 9"))
    write("plan", "plan-no-layout.yaml", "\n".join(l for l in text.splitlines() if not l.startswith(("layout", "  "))) + "\n")
    write("plan", "plan-batch-mismatch.yaml", text.replace("accumulation: 4", "accumulation: 3"))
    write("plan", "plan-world-mismatch.yaml", text.replace("tp: 2,", "tp: 4,"))
    write("plan", "plan-model-missing.yaml", text.replace("in/tiny/config.json", "in/nosuch.json"))
    write("plan", "plan-model-escape.yaml", text.replace("in/tiny/config.json", "../../../../../../etc/passwd"))
    write("plan", "plan-cluster-shorthand-huge.yaml",
          text.replace("nodes=1,gpus_per_node=2", "nodes=99999999999,gpus_per_node=2"))
    write("plan", "plan-cluster-shorthand-negative.yaml", text.replace("nodes=1,", "nodes=-1,"))
    write("plan", "plan-cluster-shorthand-garbage.yaml", text.replace("nodes=1,", "nodes=1,,color=red,"))
    write("plan", "plan-stages-gap.yaml", text + "stages:\n  - {first_layer: 0, last_layer: 0}\n")
    write("plan", "plan-stages-overlap.yaml",
          text + "stages:\n  - {first_layer: 0, last_layer: 1}\n  - {first_layer: 1, last_layer: 1}\n")
    write("plan", "plan-stages-negative.yaml", text + "stages:\n  - {first_layer: -3, last_layer: 1}\n")


def rules():
    clear("rules")
    text = open("configs/monitor/rules.yaml").read()
    text = "\n".join(line.split("  #", 1)[0].rstrip() for line in text.splitlines()) + "\n"
    first = text.split("  - name: gradient_variance")[0]
    for key, values in {"normal": ['"< abc"', '"~ 5"', "[1]", '"< 5parsecs"', '""'],
                        "abnormal": ['"> nan"', '"> 1e999"', "{a: 1}", '"<"'],
                        "for": ['"-5s"', '"forever"', "[1]", '"1e999s"'],
                        "hysteresis": ['"-1us"', '"lots"', "[1]"],
                        "actions": ["[event, reboot]", "event", "[[event]]", "{a: 1}"],
                        "metric": ['""', "[x]", '"bad metric name!"'],
                        "name": ["[x]", '""']}.items():
        for i, value in enumerate(values):
            write("rules", f"rule-{key}-{i}.yaml",
                  "\n".join(l if not l.strip().startswith(f"{key}:") and not l.strip().startswith(f"- {key}:")
                            else l.split(key + ":")[0] + f"{key}: {value}" for l in first.splitlines()) + "\n")
    structural("rules", "rules", first, ".yaml")
    write("rules", "rules-version-2.yaml", first.replace("brix_monitor_rules: 1", "brix_monitor_rules: 2"))
    write("rules", "rules-not-list.yaml", "brix_monitor_rules: 1\nrules: {a: 1}\n")
    write("rules", "rules-duplicate-name.yaml", first + first.split("rules:\n")[1])
    write("rules", "rules-hook-not-text.yaml", first.replace("actions: [event, suspect]", "actions: [event]\n    hook: [rm, -rf]"))
    write("rules", "rules-thresholds-crossed.yaml", first.replace('normal: "< 50us"', 'normal: "< 500us"'))


def safetensors_file(header, data=b"", pad=True, length=None):
    text = json.dumps(header, separators=(",", ":")).encode() if not isinstance(header, bytes) else header
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def safetensors():
    clear("safetensors")
    ok = {"model.embed_tokens.weight": {"dtype": "BF16", "shape": [128, 64], "data_offsets": [0, 16384]}}
    data = bytes(16384)
    cases = {
        "empty": b"",
        "short": b"\x01\x02\x03",
        "length-past-end": safetensors_file(ok, data, length=1 << 40),
        "length-max": struct.pack("<Q", (1 << 64) - 1) + b"{}",
        "length-zero": struct.pack("<Q", 0) + data,
        "header-not-json": safetensors_file(b"{not json", data),
        "header-array": safetensors_file([1, 2], data),
        "header-invalid-utf8": safetensors_file(b'{"\xff\xfe": 1}', data),
        "dtype-unknown": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], dtype="BF17")}, data),
        "dtype-number": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], dtype=16)}, data),
        "shape-negative": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], shape=[-128, -64])}, data),
        "shape-overflow": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], shape=[1 << 62, 1 << 62])}, data),
        "shape-text": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], shape="128x64")}, data),
        "shape-mismatch": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], shape=[128, 65])}, data),
        "offsets-reversed": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], data_offsets=[16384, 0])}, data),
        "offsets-past-end": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], data_offsets=[0, 1 << 50])}, data),
        "offsets-negative": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], data_offsets=[-1, 16383])}, data),
        "offsets-three": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], data_offsets=[0, 1, 2])}, data),
        "offsets-float": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], data_offsets=[0.0, 16384.0])}, data),
        "missing-dtype": safetensors_file({"w": {"shape": [128, 64], "data_offsets": [0, 16384]}}, data),
        "extra-key": safetensors_file({"w": dict(ok["model.embed_tokens.weight"], extra=1)}, data),
        "entry-not-object": safetensors_file({"w": [1]}, data),
        "metadata-not-object": safetensors_file(dict(ok, __metadata__=[1]), data),
        "overlap": safetensors_file({"a": {"dtype": "U8", "shape": [10], "data_offsets": [0, 10]},
                                     "b": {"dtype": "U8", "shape": [10], "data_offsets": [5, 15]}}, bytes(15)),
        "gap": safetensors_file({"a": {"dtype": "U8", "shape": [10], "data_offsets": [0, 10]},
                                 "b": {"dtype": "U8", "shape": [10], "data_offsets": [20, 30]}}, bytes(30)),
        "trailing-bytes": safetensors_file(ok, data + b"junk"),
        "truncated-data": safetensors_file(ok, data[:100]),
        "duplicate-name": safetensors_file(b'{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                           b'"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', bytes(2)),
        "name-escape": safetensors_file({"../../outside": dict(ok["model.embed_tokens.weight"])}, data),
        "deep-json": safetensors_file(b"[" * 10000 + b"]" * 10000, data),
    }
    for name, blob in cases.items():
        write("safetensors", name + ".safetensors", blob)


def sealed(body):
    body = {k: v for k, v in body.items() if k != "manifest_sha256"}
    body["manifest_sha256"] = hashlib.sha256(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    return json.dumps(body, indent=1) + "\n"


def manifests():
    clear("manifest")
    chunk = hashlib.sha256(b"chunk").hexdigest()
    good = {"brix_checkpoint": 1, "step": 1, "hash": "sha256", "chunk_size": 4096, "bytes": 4096, "new_bytes": 4096,
            "layout": {}, "files": [{"name": "data.bin", "size": 4096, "sha256": hashlib.sha256(b"x").hexdigest(),
                                     "chunks": [[chunk, 4096]]}]}
    def file_with(**changes):
        return [dict(good["files"][0], **changes)]
    cases = {
        "empty": "",
        "not-json": "{",
        "array": "[]",
        "unsealed": json.dumps(good),
        "seal-wrong": json.dumps(dict(good, manifest_sha256="0" * 64)),
        "version-2": sealed(dict(good, brix_checkpoint=2)),
        "hash-md5": sealed(dict(good, hash="md5")),
        "step-negative": sealed(dict(good, step=-5)),
        "step-text": sealed(dict(good, step="five")),
        "chunk-size-zero": sealed(dict(good, chunk_size=0)),
        "chunk-size-negative": sealed(dict(good, chunk_size=-4096)),
        "files-not-list": sealed(dict(good, files={"a": 1})),
        "file-name-escape": sealed(dict(good, files=file_with(name="../../outside.bin"))),
        "file-name-absolute": sealed(dict(good, files=file_with(name="/tmp/brix-bad-input-outside/x"))),
        "file-name-empty": sealed(dict(good, files=file_with(name=""))),
        "file-hash-short": sealed(dict(good, files=file_with(sha256="abc"))),
        "file-size-mismatch": sealed(dict(good, files=file_with(size=4097))),
        "file-size-huge": sealed(dict(good, files=file_with(size=1 << 70))),
        "chunk-hash-escape": sealed(dict(good, files=file_with(chunks=[["../../" + chunk[:58], 4096]]))),
        "chunk-not-pair": sealed(dict(good, files=file_with(chunks=[[chunk]]))),
        "chunk-size-text": sealed(dict(good, files=file_with(chunks=[[chunk, "4096"]]))),
        "chunks-missing": sealed(dict(good, files=[{k: v for k, v in good["files"][0].items() if k != "chunks"}])),
        "missing-step": sealed({k: v for k, v in good.items() if k != "step"}),
        "duplicate-file": sealed(dict(good, files=good["files"] * 2)),
        "invalid-utf8": b'{"brix_checkpoint": 1, "step": "\xff"}',
        "chunk-missing-on-disk": sealed(good),
    }
    for name, text in cases.items():
        write("manifest", name + ".json", text)


def probes():
    clear("probe")
    text = open("tests/fixtures/shard/dgx-a-probe.yaml").read()
    # Unknown keys of a probe report are kept for later additions (brix-probe(1)).
    structural("probe", "probe", text, ".yaml", unknown_keys_refused=False)
    for name, (old, new) in {
            "gpu-index-negative": ("index: 0", "index: -1"),
            "gpu-index-text": ("index: 0", "index: zero"),
            "gpu-index-duplicate": ("index: 1", "index: 0"),
            "numa-huge": ("numa_node: 0", "numa_node: 99999999999999999999"),
            "cpus-garbage": ('cpus: "0-55,112-167"', 'cpus: "55-0,x"'),
            "cpus-list": ('cpus: "0-55,112-167"', "cpus: [0, 1]"),
            "nic-rate-negative": ("rate_gbps: 400", "rate_gbps: -400"),
            "nic-rate-nan": ("rate_gbps: 400", "rate_gbps: .nan"),
            "port-number-text": ("number: 1,", "number: one,"),
            "nearest-not-list": ("nearest_nics: [", "nearest_nics: {a: 1}\n    x: ["),
            "version-2": ("brix_probe: 1", "brix_probe: 2"),
            "host-escape": ("host: dgx-a", "host: ../../outside"),
            "host-list": ("host: dgx-a", "host: [a, b]"),
            "gpus-map": ("gpus:\n", "gpus: {a: 1}\nx:\n"),
    }.items():
        write("probe", f"probe-{name}.yaml", text.replace(old, new, 1))


def hwloc():
    clear("hwloc")
    text = open("tests/fuzz/corpus/hwloc_xml/seed-annotated.xml").read()
    for name, (old, new) in {
            "nvlink-negative": ('name="NVLinkActiveLinks" value="18"', 'name="NVLinkActiveLinks" value="-18"'),
            "nvlink-nan": ('name="NVLinkActiveLinks" value="18"', 'name="NVLinkActiveLinks" value="nan"'),
            "nvlink-huge": ('name="NVLinkActiveLinks" value="18"', 'name="NVLinkActiveLinks" value="99999999999999999999"'),
            "nvlink-version-text": ('name="NVLinkVersion" value="4"', 'name="NVLinkVersion" value="four"'),
            "port-speed-nan": ('name="Port1ActiveSpeed" value="128"', 'name="Port1ActiveSpeed" value="nan"'),
            "port-width-negative": ('name="Port1ActiveWidth" value="2"', 'name="Port1ActiveWidth" value="-2"'),
            "link-speed-nan": ('pci_link_speed="63.015385"', 'pci_link_speed="nan"'),
            "link-speed-negative": ('pci_link_speed="63.015385"', 'pci_link_speed="-63"'),
            "busid-garbage": ('pci_busid="0000:12:00.0"', 'pci_busid="zzzz:12:00.0"'),
            "busid-out-of-range": ('pci_busid="0000:12:00.0"', 'pci_busid="0000:999:00.0"'),
            "cpuset-garbage": ('cpuset="0x00000003"', 'cpuset="0xnothex"'),
            "port-state-huge": ('name="Port1State" value="4"', 'name="Port1State" value="99999999999"'),
            "host-invalid-utf8": ('name="HostName" value="node07"', 'name="HostName" value="n\udcff"'),
    }.items():
        write("hwloc", f"{name}.xml", text.replace(old, new, 1).encode(errors="surrogateescape"))
    clear("hwloc_out")
    for name, host in {"host-escape": "../../outside", "host-absolute": "/tmp/brix-bad-input-outside/x",
                       "host-space": "node 07"}.items():
        write("hwloc_out", f"{name}.xml", text.replace('name="HostName" value="node07"', f'name="HostName" value="{host}"', 1))
    write("hwloc", "empty.xml", "")
    write("hwloc", "not-xml.xml", "hello\n")
    write("hwloc", "truncated.xml", text[: len(text) // 2])
    write("hwloc", "not-hwloc.xml", '<?xml version="1.0"?>\n<html><body/></html>\n')


def hf_indexes():
    clear("hf_index")
    cases = {
        "not-json": "{",
        "weight-map-list": json.dumps({"weight_map": [1]}),
        "file-escape": json.dumps({"weight_map": {"model.embed_tokens.weight": "../../outside.safetensors"}}),
        "file-absolute": json.dumps({"weight_map": {"model.embed_tokens.weight": "/tmp/brix-bad-input-outside/x.safetensors"}}),
        "file-missing": json.dumps({"weight_map": {"model.embed_tokens.weight": "nosuch.safetensors"}}),
        "file-number": json.dumps({"weight_map": {"model.embed_tokens.weight": 7}}),
        "tensor-not-in-file": json.dumps({"weight_map": {"model.nothing": "model-00001-of-00001.safetensors"}}),
        "invalid-utf8": b'{"weight_map": {"\xff": "model-00001-of-00001.safetensors"}}',
    }
    for name, text in cases.items():
        write("hf_index", name + ".json", text)


def shard_indexes():
    clear("shard_index")
    cases = {
        "empty": "",
        "not-json": "{",
        "array": "[]",
        "version-9": json.dumps({"brix_shards": 9}),
        "files-escape": json.dumps({"brix_shards": 1, "files": [{"name": "../../outside.safetensors"}]}),
        "invalid-utf8": b'{"brix_shards": "\xff"}',
    }
    for name, text in cases.items():
        write("shard_index", name + ".json", text)


def good_checkpoint():
    """good/tiny.safetensors: every tensor of the tiny Llama the runner's config.json describes."""
    h, heads, kv, ffn, vocab = 64, 4, 2, 128, 128
    hd = h // heads
    tensors = [("model.embed_tokens.weight", [vocab, h])]
    for layer in range(2):
        p = f"model.layers.{layer}."
        tensors += [(p + "input_layernorm.weight", [h]), (p + "self_attn.q_proj.weight", [heads * hd, h]),
                    (p + "self_attn.k_proj.weight", [kv * hd, h]), (p + "self_attn.v_proj.weight", [kv * hd, h]),
                    (p + "self_attn.o_proj.weight", [h, heads * hd]), (p + "post_attention_layernorm.weight", [h]),
                    (p + "mlp.gate_proj.weight", [ffn, h]), (p + "mlp.up_proj.weight", [ffn, h]),
                    (p + "mlp.down_proj.weight", [h, ffn])]
    tensors += [("model.norm.weight", [h]), ("lm_head.weight", [vocab, h])]
    header, offset = {}, 0
    for name, shape in tensors:
        size = 2
        for d in shape:
            size *= d
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    with open(os.path.join(ROOT, "good", "tiny.safetensors"), "wb") as f:
        f.write(safetensors_file(header, bytes(i % 251 for i in range(offset))))


if __name__ == "__main__":
    good_checkpoint()
    models()
    clusters()
    plans()
    rules()
    safetensors()
    manifests()
    probes()
    hwloc()
    hf_indexes()
    shard_indexes()
