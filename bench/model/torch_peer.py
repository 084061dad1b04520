"""PyTorch peer of bench/model/gpu-parity.ts, run on the same machine in the same call.

1. Log-probs of the tiny fixture's continuations computed by transformers on this machine's GPU
   in fp32 (TF32 off), written as JSON for gpu-parity.ts --torch.
2. Forward throughput of a random Qwen3 of the same shapes as gpu-parity.ts's benchmark, fp32.

    python3 bench/model/torch_peer.py --fixture test/fixtures/qwen3-tiny --out torch.json
"""
import argparse
import json
import os
import time

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

p = argparse.ArgumentParser()
p.add_argument("--fixture", default="test/fixtures/qwen3-tiny")
p.add_argument("--out", default="torch.json")
p.add_argument("--layers", type=int, default=8)
a = p.parse_args()
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = "cuda" if torch.cuda.is_available() else "cpu"
ref = json.load(open(os.path.join(a.fixture, "reference.json")))
model = Qwen3ForCausalLM.from_pretrained(a.fixture, torch_dtype=torch.float32, attn_implementation="eager").to(dev).eval()
scoring = []
for r in ref["scoring"]:
    ids = torch.tensor([r["context_ids"] + r["continuation_ids"]], device=dev)
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].double(), -1)
    n = len(r["context_ids"])
    lps = [float(logp[n - 1 + j, t]) for j, t in enumerate(r["continuation_ids"])]
    scoring.append({**r, "token_logprobs": lps, "logprob": sum(lps)})
diff = max(abs(x - y) for r, s in zip(ref["scoring"], scoring) for x, y in zip(r["token_logprobs"], s["token_logprobs"]))
print(f"torch {torch.__version__} on {torch.cuda.get_device_name() if dev == 'cuda' else 'cpu'}: max |torch GPU - reference.json| = {diff:.2e}")

cfg = Qwen3Config(vocab_size=32768, hidden_size=1024, intermediate_size=3072, num_hidden_layers=a.layers, num_attention_heads=16,
                  num_key_value_heads=8, head_dim=128, rms_norm_eps=1e-6, rope_theta=1000000.0, max_position_embeddings=4096, tie_word_embeddings=True)
big = Qwen3ForCausalLM(cfg).to(dev).eval()
ids = torch.tensor([[(r * 977 + i * 131) % 32768 for i in range(256)] for r in range(8)], device=dev)
results = {}
for name, dtype, tf32 in [("fp32", torch.float32, False), ("tf32", torch.float32, True), ("bf16", torch.bfloat16, False)]:
    torch.backends.cuda.matmul.allow_tf32 = tf32
    m = big.to(dtype)
    with torch.no_grad():
        m(ids)
        times = []
        for _ in range(5):
            if dev == "cuda": torch.cuda.synchronize()
            t0 = time.perf_counter()
            m(ids).logits.float().sum().item()
            times.append(time.perf_counter() - t0)
    best = min(times)
    results[name] = {"bestMs": best * 1000, "tokensPerSecond": 8 * 256 / best}
    print(f"torch {name} forward 8x256, {a.layers} layers: best {best * 1000:.1f} ms, {8 * 256 / best:.0f} tokens/s")
json.dump({"device": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "torch": torch.__version__, "scoring": scoring,
           "maxAbsVsReference": diff, "bench": results}, open(a.out, "w"), indent=1)
