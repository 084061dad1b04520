"""A tiny random Qwen3 with the real Qwen3 tokenizer, for the endpoint tests.

    python tiny_qwen3_qwentok.py OUT_DIR TOKENIZER_DIR

Writes OUT_DIR/{config.json, model.safetensors, tokenizer.json, tokenizer_config.json} (f32, seeded,
so every machine builds the same weights). The vocabulary is Qwen3's full 151 936 rows, the rest is
tiny (hidden 32, 2 layers, 2 heads, 1 KV head) with tied embeddings: about 20 MB. Weights are drawn
wider than transformers' default (std 0.5) so the next-token distribution has clear winners: greedy
decoding through llama.cpp and through fleuve then picks the same tokens despite float rounding.
BOS/EOS ids are Qwen3's (151643 <|endoftext|>, 151645 <|im_end|>).
"""
import json
import os
import shutil
import sys

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

out, tokdir = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
torch.manual_seed(20261206)
config = Qwen3Config(
    vocab_size=151936,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=16,
    max_position_embeddings=1024,
    rope_theta=1000000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
    initializer_range=0.5,
    bos_token_id=151643,
    eos_token_id=151645,
    pad_token_id=151643,
    torch_dtype="float32",
)
model = Qwen3ForCausalLM(config).eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        if "norm" in name:
            p.copy_(1.0 + 0.3 * torch.randn_like(p))
model.save_pretrained(out, safe_serialization=True)
for f in ("tokenizer.json", "tokenizer_config.json"):
    shutil.copy(os.path.join(tokdir, f), os.path.join(out, f))
with open(os.path.join(out, "generation_config.json"), "w") as f:
    json.dump({"bos_token_id": 151643, "eos_token_id": 151645, "do_sample": False}, f)
print(f"wrote {out}")
