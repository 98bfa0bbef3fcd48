# A small Llama-shaped Hugging Face safetensors checkpoint for CLI tests: source this file
# (needs python3).

# make_checkpoint DIR [EXTRA_TENSOR]: 2 layers, hidden 64, 4 heads (2 kv heads), vocab 128, two files.
make_checkpoint() {
  python3 - "$1" "${2:-}" <<'PY'
import json, os, struct, sys, random
out, extra = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
h, heads, kv, ffn, vocab, layers = 64, 4, 2, 128, 128, 2
hd = h // heads
json.dump({"model_type": "llama", "hidden_size": h, "num_hidden_layers": layers, "num_attention_heads": heads,
           "num_key_value_heads": kv, "intermediate_size": ffn, "vocab_size": vocab,
           "max_position_embeddings": 2048}, open(f"{out}/config.json", "w"))
tensors = [("model.embed_tokens.weight", [vocab, h])]
for l in range(layers):
    p = f"model.layers.{l}."
    tensors += [(p + "input_layernorm.weight", [h]), (p + "self_attn.q_proj.weight", [heads * hd, h]),
                (p + "self_attn.k_proj.weight", [kv * hd, h]), (p + "self_attn.v_proj.weight", [kv * hd, h]),
                (p + "self_attn.o_proj.weight", [h, heads * hd]), (p + "post_attention_layernorm.weight", [h]),
                (p + "mlp.gate_proj.weight", [ffn, h]), (p + "mlp.up_proj.weight", [ffn, h]),
                (p + "mlp.down_proj.weight", [h, ffn])]
tensors += [("model.norm.weight", [h]), ("lm_head.weight", [vocab, h])]
if extra:
    tensors.append((extra, [4, 4]))
rng = random.Random(5)
weight_map = {}
halves = [tensors[: len(tensors) // 2], tensors[len(tensors) // 2:]]
for i, part in enumerate(halves):
    name = f"model-{i + 1:05}-of-00002.safetensors"
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for t, shape in part:
        n = 2
        for d in shape:
            n *= d
        header[t] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
        blobs.append(bytes(rng.getrandbits(8) for _ in range(n)))
        offset += n
        weight_map[t] = name
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(f"{out}/{name}", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, open(f"{out}/model.safetensors.index.json", "w"), indent=2)
PY
}
