#!/usr/bin/env python3
"""PyTorch peer for bench/gpu/kernels.ts, same shapes, same card, same run.

- matmul TFLOP/s, square 4096 and 8192, fp32 (TF32 off: true fp32) and bf16;
- the Qwen3-0.6B-shaped linears at scoring shape (8192 tokens);
- scoring forward of a Qwen3-0.6B-shaped model with random weights via transformers
  (Qwen3ForCausalLM, sdpa attention), batch 16 x prompt 512, fp32 and bf16: tokens/s and peak memory.
Prints one JSON object per line.
"""
import json
import sys
import time

import torch

quick = "--quick" in sys.argv


def emit(**o):
    print(json.dumps(o), flush=True)


def bench(f, reps=10, warm=3):
    for _ in range(warm):
        f()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        f()
        e.record()
        torch.cuda.synchronize()
        ts.append(s.elapsed_time(e) / 1000)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    emit(kind="torch", version=torch.__version__, device=torch.cuda.get_device_name(0))
    for dtype in (torch.float32, torch.bfloat16):
        for n in ([2048] if quick else [4096, 8192]):
            a = torch.randn(n, n, device="cuda", dtype=dtype)
            b = torch.randn(n, n, device="cuda", dtype=dtype)
            t = bench(lambda: a @ b.T)
            emit(kind="matmul", label=f"square {n}", impl="torch", format=str(dtype).replace("torch.", ""), M=n, N=n, K=n, ms=round(t * 1e3, 3), tflops=round(2 * n**3 / t / 1e12, 2))
            del a, b
    T = 16 * 512
    for dtype in (torch.float32, torch.bfloat16):
        for label, N, K in [("q_proj", 2048, 1024), ("k/v_proj", 1024, 1024), ("o_proj", 1024, 2048), ("gate/up_proj", 3072, 1024), ("down_proj", 1024, 3072), ("lm_head chunk (M=1024)", 151936, 1024)]:
            M = 1024 if label.startswith("lm_head") else T
            x = torch.randn(M, K, device="cuda", dtype=dtype)
            w = torch.randn(N, K, device="cuda", dtype=dtype) * 0.05
            t = bench(lambda: torch.nn.functional.linear(x, w))
            emit(kind="matmul", label=label, impl="torch", format=str(dtype).replace("torch.", ""), M=M, N=N, K=K, ms=round(t * 1e3, 3), tflops=round(2 * M * N * K / t / 1e12, 2))
            del x, w
    try:
        from transformers import Qwen3Config, Qwen3ForCausalLM
    except Exception as e:  # noqa: BLE001
        emit(kind="error", what="transformers", reason=str(e))
        return
    layers = 2 if quick else 28
    for dtype in (torch.float32, torch.bfloat16):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        cfg = Qwen3Config(hidden_size=1024, intermediate_size=3072, num_hidden_layers=layers, num_attention_heads=16, num_key_value_heads=8,
                          head_dim=128, vocab_size=151936, tie_word_embeddings=True, rope_theta=1e6, max_position_embeddings=4096)
        cfg._attn_implementation = "sdpa"
        with torch.device("cuda"):
            model = Qwen3ForCausalLM(cfg).to(dtype).eval()
        ids = torch.randint(0, 151936, (16, 512), device="cuda")
        with torch.inference_mode():
            t = bench(lambda: model(input_ids=ids, use_cache=False).logits, reps=5, warm=2)
        Hd, H, KV, D, I, V, B, S = 1024, 16, 8, 128, 3072, 151936, 16, 512
        Tk = B * S
        layer = 2 * Tk * Hd * (H * D + 2 * KV * D) + 2 * Tk * H * D * Hd + 3 * 2 * Tk * Hd * I + 2 * B * H * S * S * D
        flops = layers * layer + 2 * Tk * Hd * V
        emit(kind="scoring-forward", model="Qwen3-0.6B-shaped, random weights (transformers, sdpa)", weights=str(dtype).replace("torch.", ""), matmul="torch",
             layers=layers, batch=16, prompt=512, tokens_per_s=round(Tk / t), ms_total=round(t * 1e3, 1), tflops=round(flops / t / 1e12, 2),
             peak_gpu_bytes_allocated=torch.cuda.max_memory_allocated())
        del model


if __name__ == "__main__":
    main()
