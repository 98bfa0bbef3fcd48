#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets that are not copies of files in the tree: binary
formats (safetensors, store frames), sealed checkpoint manifests, an annotated hwloc XML, request
heads, report lines and layouts. The configs and fixtures copied into tests/fuzz/corpus are the
other seeds. Run from the repository root; it overwrites only its own seed-* files."""
import hashlib
import json
import os
import struct

CORPUS = "tests/fuzz/corpus"


def write(target, name, data):
    path = os.path.join(CORPUS, target, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data.encode() if isinstance(data, str) else data)


def safetensors(tensors, metadata=None):
    header, data, offset = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, size in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        data += bytes(i % 256 for i in range(size))
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def frame(code, number, fields):
    body = struct.pack("<BqI", code, number, len(fields))
    for field in fields:
        body += struct.pack("<I", len(field)) + field
    return struct.pack("<I", len(body)) + body


def manifest(step, files, chunk_size=4096):
    body = {"brix_checkpoint": 1, "step": step, "hash": "sha256", "chunk_size": chunk_size,
            "bytes": sum(f[1] for f in files), "new_bytes": sum(f[1] for f in files),
            "layout": {"tp": 1, "pp": 1, "dp": 2}, "files": []}
    for name, size in files:
        chunks, left, index = [], size, 0
        while left > 0:
            part = min(chunk_size, left)
            chunks.append([hashlib.sha256(f"{name}{index}".encode()).hexdigest(), part])
            left -= part
            index += 1
        body["files"].append({"name": name, "size": size,
                              "sha256": hashlib.sha256(name.encode()).hexdigest(), "chunks": chunks})
    body["manifest_sha256"] = hashlib.sha256(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    return json.dumps(body, indent=1) + "\n"


write("safetensors_header", "seed-two-tensors", safetensors(
    [("model.embed_tokens.weight", "BF16", [4, 8], 64), ("model.norm.weight", "F32", [8], 32)],
    {"format": "pt"}))
write("safetensors_header", "seed-fp8", safetensors(
    [("w", "F8_E4M3", [16, 16], 256), ("w_scale_inv", "F32", [1, 1], 4), ("b", "I64", [], 8)]))
write("safetensors_header", "seed-empty", safetensors([]))

write("store_frame", "seed-hello-set-get", frame(1, 0, [b"token", b"rank0"]) + frame(2, 0, [b"k", b"v"]) +
      frame(3, 0, [b"k"]))
write("store_frame", "seed-wait-add-cas", frame(1, 0, [b"token", b"r"]) + frame(4, 100, [b"a", b"b"]) +
      frame(5, 3, [b"counter"]) + frame(6, 0, [b"k", b"", b"new"]) + frame(7, 0, [b"a", b"z"]) +
      frame(8, 0, [b"k"]) + frame(9, 0, [b"a", b"counter"]))
write("store_frame", "seed-wrong-token", frame(1, 0, [b"guess", b"x"]) + frame(2, 0, [b"k", b"v"]))

write("checkpoint_manifest", "seed-two-files", manifest(42, [("rank_00000.bin", 10000), ("rank_00001.bin", 10)]))
write("checkpoint_manifest", "seed-empty", manifest(0, []))

for i, head in enumerate([
        "GET /metrics HTTP/1.1\r\nHost: localhost:9464\r\nAccept: */*\r\n\r\n",
        "HEAD /metrics?x=1 HTTP/1.0\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        "GET /healthz HTTP/1.1\n\n"]):
    write("http_request", f"seed-{i}", head)

for i, lines in enumerate([
        "rank=3 step=120 time=0.412 compute=0.371 loss=2.31 tokens=524288\n",
        "rank=0\nrank=1 step=1 time=0.5 stage=2 grad_norm=1.5 grad_variance=0.01\n",
        "rank=7 step=99 time=1e-3 compute=0.0009 loss=nan\r\n",
        '{"node":"n1","time":1700000000.5,"ranks":[{"rank":0,"pid":10,"alive":true,"step":3}],"gpus":[]}']):
    write("report_line", f"seed-{i}", lines)

for i, layout in enumerate([
        "tp=8,pp=4,dp=2", "tp=8,pp=1,dp=20,ep=32,zero=3,recompute=full,grad_compression=fp8",
        "tp=4,pp=4,dp=4,ep=8,etp=1,cp=2,sp=1,mbs=2,vpp=2,schedule=interleaved,precision=fp8,flash=0",
        "micro_batch=1,schedule=dualpipe,recompute=selective"]):
    write("layout_flag", f"seed-{i}", layout)

# A two-GPU node with every annotation brix reads (man/brix-probe.1, FILES).
xml = open("tests/fixtures/launch/two-gpu-node.xml").read()
xml = xml.replace('gp_index="1">', '''gp_index="1">
    <info name="HostName" value="node07"/>
    <info name="OSDistribution" value="Ubuntu 22.04.4 LTS"/>
    <info name="NVIDIADriverVersion" value="550.54.15"/>
    <info name="CUDADriverVersion" value="12.4"/>
    <info name="NCCLVersion" value="2.21.5"/>
    <info name="GPUDirectRDMA" value="nvidia_peermem"/>''', 1)
for nic in ("mlx5_0", "mlx5_1"):
    xml = xml.replace(f'name="{nic}" osdev_type="3">', f'''name="{nic}" osdev_type="3">
              <info name="Port1LinkLayer" value="InfiniBand"/>
              <info name="FirmwareVersion" value="28.39.1002"/>
              <info name="Port1ActiveWidth" value="2"/>
              <info name="Port1ActiveSpeed" value="128"/>''')
for gpu in ("0", "1"):
    xml = xml.replace(f'name="cuda{gpu}" subtype="CUDA" osdev_type="5"/>', f'''name="cuda{gpu}" subtype="CUDA" osdev_type="5">
              <info name="GPUModel" value="NVIDIA H100 80GB HBM3"/>
            </object>
            <object type="OSDev" gp_index="{30 + int(gpu)}" name="nvml{gpu}" subtype="NVML" osdev_type="1">
              <info name="GPUModel" value="NVIDIA H100 80GB HBM3"/>
              <info name="NVLinkVersion" value="4"/>
              <info name="NVLinkActiveLinks" value="18"/>
              <info name="NVLinkRemote" value="switch"/>
            </object>''')
write("hwloc_xml", "seed-annotated.xml", xml)
