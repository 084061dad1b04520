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
    if "--only-dapt" in sys.argv:
        from transformers import Qwen3Config, Qwen3ForCausalLM
        emit(kind="torch", version=torch.__version__, device=torch.cuda.get_device_name(0))
        return dapt_training(Qwen3Config, Qwen3ForCausalLM)
    if "--only-full-training" in sys.argv:
        from transformers import Qwen3Config, Qwen3ForCausalLM
        cfg = Qwen3Config(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                          head_dim=128, vocab_size=151936, tie_word_embeddings=True, rope_theta=1e6, max_position_embeddings=4096)
        cfg._attn_implementation = "sdpa"
        emit(kind="torch", version=torch.__version__, device=torch.cuda.get_device_name(0))
        return full_training(cfg, Qwen3ForCausalLM)
    if "--only-training" in sys.argv or "--only-generation" in sys.argv:
        from transformers import Qwen3Config, Qwen3ForCausalLM
        cfg = Qwen3Config(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                          head_dim=128, vocab_size=151936, tie_word_embeddings=True, rope_theta=1e6, max_position_embeddings=4096)
        cfg._attn_implementation = "sdpa"
        emit(kind="torch", version=torch.__version__, device=torch.cuda.get_device_name(0))
        return lora_training(cfg, Qwen3ForCausalLM) if "--only-training" in sys.argv else generation(cfg, Qwen3ForCausalLM)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    emit(kind="torch", version=torch.__version__, device=torch.cuda.get_device_name(0))
    only_scoring = "--only-model" in sys.argv
    for dtype in (() if only_scoring else (torch.float32, torch.bfloat16)):
        for n in ([2048] if quick else [4096, 8192]):
            a = torch.randn(n, n, device="cuda", dtype=dtype)
            b = torch.randn(n, n, device="cuda", dtype=dtype)
            t = bench(lambda: a @ b.T)
            emit(kind="matmul", label=f"square {n}", impl="torch", format=str(dtype).replace("torch.", ""), M=n, N=n, K=n, ms=round(t * 1e3, 3), tflops=round(2 * n**3 / t / 1e12, 2))
            del a, b
    T = 16 * 512
    for dtype in (() if only_scoring else (torch.float32, torch.bfloat16)):
        for label, N, K in [("q_proj", 2048, 1024), ("k/v_proj", 1024, 1024), ("o_proj", 1024, 2048), ("gate/up_proj", 3072, 1024), ("down_proj", 1024, 3072), ("lm_head chunk (M=1024)", 151936, 1024)]:
            M = 1024 if label.startswith("lm_head") else T
            x = torch.randn(M, K, device="cuda", dtype=dtype)
            w = torch.randn(N, K, device="cuda", dtype=dtype) * 0.05
            t = bench(lambda: torch.nn.functional.linear(x, w))
            emit(kind="matmul", label=label, impl="torch", format=str(dtype).replace("torch.", ""), M=M, N=N, K=K, ms=round(t * 1e3, 3), tflops=round(2 * M * N * K / t / 1e12, 2))
            del x, w
    if "--only-matmul" in sys.argv:
        return
    try:
        from transformers import Qwen3Config, Qwen3ForCausalLM
    except Exception as e:  # noqa: BLE001
        emit(kind="error", what="transformers", reason=str(e))
        return
    layers = 2 if quick else 28
    # --ratio-only: bf16 only (the scoring ratio's denominator)
    for dtype in (torch.bfloat16,) if "--ratio-only" in sys.argv else (torch.float32, torch.bfloat16):
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
        scoring_end_to_end(model, ids, dtype, layers)
        del model
    if "--attention-forward" in sys.argv:
        attention_alone()
    if "--no-runtime" not in sys.argv:
        if "--no-generation" not in sys.argv:
            generation(cfg, Qwen3ForCausalLM)
        lora_training(cfg, Qwen3ForCausalLM)


def scoring_end_to_end(model, ids, dtype, layers):
    """The peer of fleuve's end-to-end scoring row (bench/gpu/kernels.ts' tokens_per_s: ids up, the
    forward, each position's log-probability of its target and its argmax back on the host), the
    same work three ways, each timed by itself: log_softmax in f32 then gather (lm-eval's way),
    cross_entropy on the f32 logits, and cross_entropy on the bf16 logits (fastest, less precise)."""
    V = 151936
    targets = torch.roll(ids, -1, dims=1)
    F = torch.nn.functional

    def run(how):
        ids_up = ids.cpu().cuda()
        logits = model(input_ids=ids_up, use_cache=False).logits
        if how == "log_softmax f32 + gather":
            lp = torch.log_softmax(logits.float(), -1).gather(-1, targets[..., None]).squeeze(-1)
        elif how == "cross_entropy f32":
            lp = -F.cross_entropy(logits.float().view(-1, V), targets.view(-1), reduction="none")
        else:
            lp = -F.cross_entropy(logits.view(-1, V), targets.view(-1), reduction="none")
        return lp.cpu(), logits.argmax(-1).cpu()

    Tk = ids.numel()
    for how in ("log_softmax f32 + gather", "cross_entropy f32", "cross_entropy bf16 logits"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        with torch.inference_mode():
            t = bench(lambda: run(how), reps=5, warm=2)
        emit(kind="scoring-end-to-end", model="Qwen3-0.6B-shaped, random weights (transformers, sdpa)", weights=str(dtype).replace("torch.", ""), how=how,
             layers=layers, batch=ids.shape[0], prompt=ids.shape[1], tokens_per_s=round(Tk / t), ms_total=round(t * 1e3, 1), peak_gpu_bytes_allocated=torch.cuda.max_memory_allocated())


def attention_alone():
    """The peer of bench/gpu/kernels.ts' attention rows: causal SDPA alone at the scoring shape (16 x 512, Qwen3-0.6B heads), bf16 and f16."""
    B, S, H, KV, D = 16, 512, 16, 8, 128
    for dtype in (torch.bfloat16, torch.float16):
        q = torch.randn(B, H, S, D, device="cuda", dtype=dtype)
        k = torch.randn(B, KV, S, D, device="cuda", dtype=dtype)
        v = torch.randn(B, KV, S, D, device="cuda", dtype=dtype)
        t = bench(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True), reps=20, warm=3)
        emit(kind="attention", impl="torch sdpa", weights=str(dtype).replace("torch.", ""), batch=B, seq=S, heads=H, kvHeads=KV, headDim=D,
             ms=round(t * 1e3, 3), tflops=round(2 * B * H * S * S * D / t / 1e12, 2))
        del q, k, v


def arg(name, default):
    """The value after `name` on the command line, else default."""
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def generation(cfg, Qwen3ForCausalLM):
    """Greedy generation, prompt 128, 128 new tokens, KV cache (transformers generate, sdpa attention),
    every setting issue 22 asks for: bf16 and fp32 weights; dynamic cache, static cache run eagerly
    (`cache_implementation="static"`, automatic compilation disabled), and static cache with
    transformers' automatic compilation of the decoding steps (its CompileConfig: torch.compile,
    reduce-overhead; --gen-caches ...,static-compiled; compilation takes a while); batch 16 and 1. Each setting is warmed up by a generate of 16 new tokens
    (a compiled one by two of the timed shape), then timed once. Apart from generate: the prefill's tokens/s (a
    forward over the prompts, cache on) and one decoding step's latency (a forward of one token a row
    against the cache after the prompt, median of 20, synchronised), with the CUDA kernels that step
    launches (torch.profiler): what separates bf16 from fp32 in a launch-bound step."""
    import copy
    import transformers
    new = 8 if quick else int(arg("--gen-new", "128"))
    prompt = 128
    batches = [int(b) for b in arg("--gen-batches", "16,1").split(",")]
    dtypes = [getattr(torch, d) for d in arg("--gen-dtypes", "bfloat16,float32").split(",")]
    caches = arg("--gen-caches", "dynamic,static").split(",")
    emit(kind="generation-setup", impl="torch", transformers=transformers.__version__, attn_implementation=cfg._attn_implementation,
         matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32, cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
         matmul_precision=torch.get_float32_matmul_precision())
    for dtype in dtypes:
        name = str(dtype).replace("torch.", "")
        torch.cuda.empty_cache()
        with torch.device("cuda"):
            model = Qwen3ForCausalLM(cfg).to(dtype).eval()
        for batch in batches:
            ids = torch.randint(0, cfg.vocab_size, (batch, prompt), device="cuda")
            with torch.inference_mode():
                # the prefill (generate's first forward) and one decoding step, apart from generate
                parts = "--gen-no-parts" not in sys.argv
                if parts:
                    def prefill():
                        return model(input_ids=ids, use_cache=True)
                    out = prefill()
                    torch.cuda.synchronize()
                    t_prefill = bench(prefill, reps=5, warm=1)
                    past = out.past_key_values
                    nxt = out.logits[:, -1].argmax(-1, keepdim=True)
                    times = []
                    for i in range(21):
                        torch.cuda.synchronize()
                        t0 = time.perf_counter()
                        step = model(input_ids=nxt, past_key_values=past, use_cache=True)
                        nxt = step.logits[:, -1].argmax(-1, keepdim=True)
                        torch.cuda.synchronize()
                        if i > 0:
                            times.append(time.perf_counter() - t0)
                        past = step.past_key_values
                    times.sort()
                    kernels, gpu_ms, cpu_ops, top_kernels = None, None, None, None
                    try:
                        from torch.profiler import ProfilerActivity, profile
                        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                            step = model(input_ids=nxt, past_key_values=past, use_cache=True)
                            step.logits[:, -1].argmax(-1)
                            torch.cuda.synchronize()
                        events = prof.events()
                        on_gpu = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
                        kernels = len(on_gpu)
                        # the kernels' own GPU time: against the step's wall time, how launch-bound the step is
                        gpu_ms = round(sum(e.time_range.elapsed_us() for e in on_gpu) / 1e3, 3)
                        cpu_ops = sum(1 for e in events if e.device_type == torch.autograd.DeviceType.CPU)
                        by_name = {}
                        for e in on_gpu:
                            n, c = by_name.get(e.name, (0.0, 0))
                            by_name[e.name] = (n + e.time_range.elapsed_us(), c + 1)
                        top = sorted(by_name.items(), key=lambda kv: -kv[1][0])[:6]
                        top_kernels = [{"name": k[:70], "us": round(v[0], 1), "count": v[1]} for k, v in top]
                    except Exception as e:  # noqa: BLE001
                        kernels, gpu_ms = f"profiler failed: {e}"[:120], None
                    emit(kind="generation-parts", impl="torch", weights=name, batch=batch, prompt=prompt, attn_implementation=model.config._attn_implementation,
                         prefill_tokens_per_s=round(batch * prompt / t_prefill), prefill_ms=round(t_prefill * 1e3, 2),
                         step_ms_median=round(times[len(times) // 2] * 1e3, 3), step_ms_min=round(times[0] * 1e3, 3), cuda_kernels_per_step=kernels, kernels_gpu_ms_per_step=gpu_ms,
                         cpu_ops_per_step=cpu_ops, top_kernels=top_kernels)
                    del out, past, step
            for cache in caches:
                gc = copy.deepcopy(model.generation_config)
                gc.update(max_new_tokens=new, min_new_tokens=new, do_sample=False, use_cache=True, pad_token_id=0)
                if cache != "dynamic":
                    gc.cache_implementation = "static"
                    # "static": the eager static cache; "static-compiled": transformers' own automatic
                    # compilation of the decoding steps with a static cache (its CompileConfig:
                    # torch.compile, mode reduce-overhead = CUDA graphs). Replacing model.forward by a
                    # compiled one instead fails on transformers 5.17 ("accessing tensor output of
                    # CUDAGraphs that has been overwritten by a subsequent run": generate keeps a step's
                    # outputs across the next)
                    gc.disable_compile = cache != "static-compiled"
                try:
                    with torch.inference_mode():
                        t0 = time.time()
                        # eager: a short generate warms cuBLAS and the allocator; compiled: two of the timed shape (compilation, CUDA graphs)
                        short = copy.deepcopy(gc)
                        short.update(max_new_tokens=16, min_new_tokens=16)
                        for _ in range(2 if cache == "static-compiled" else 1):
                            model.generate(ids, generation_config=gc if cache == "static-compiled" else short)
                        torch.cuda.synchronize()
                        warm = time.time() - t0
                        torch.cuda.reset_peak_memory_stats()
                        t0 = time.time()
                        out = model.generate(ids, generation_config=gc)
                        torch.cuda.synchronize()
                        t = time.time() - t0
                    compiled = getattr(gc, "compile_config", None)
                    emit(kind="generation", impl="torch", weights=name, cache=cache, batch=batch, prompt=prompt, new_tokens=out.shape[1] - prompt,
                         compile_config=(str(compiled)[:160] if cache == "static-compiled" and compiled is not None else None),
                         tokens_per_s=round(batch * new / t), ms_total=round(t * 1e3, 1), ms_per_token_step=round(t * 1e3 / new, 3), warm_up_s=round(warm, 1),
                         peak_gpu_bytes_allocated=torch.cuda.max_memory_allocated())
                except Exception as e:  # noqa: BLE001
                    emit(kind="error", what=f"generation {name} {cache} batch {batch}", reason=str(e)[:300])
        del model


def lora_training(cfg, Qwen3ForCausalLM):
    """LoRA r16 α32 dropout 0.05 on all projections (peft), sequence 1024, effective batch 16, AdamW;
    and with dropout 0 at micro-batch 16 (fleuve's WGSL trainer is measured at both)."""
    try:
        from peft import LoraConfig, get_peft_model
    except Exception as e:  # noqa: BLE001
        emit(kind="error", what="peft", reason=str(e))
        return
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    # bf16 first: the ratio's denominator, if time runs short (--ratio-only: only that, bf16 16 x 1 dropout 0.05)
    ratio_only = "--ratio-only" in sys.argv
    for dtype in (torch.bfloat16,) if ratio_only else (torch.bfloat16, torch.float32):
        for micro, accumulation, dropout in ((16, 1, 0.05),) if ratio_only else ((1, 16, 0.05), (2, 8, 0.05), (16, 1, 0.05), (16, 1, 0.0)):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            with torch.device("cuda"):
                base = Qwen3ForCausalLM(cfg).to(dtype)
            model = get_peft_model(base, LoraConfig(r=16, lora_alpha=32, lora_dropout=dropout, target_modules=targets))
            model.train()
            opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
            ids = torch.randint(0, 151936, (micro * accumulation, 1024), device="cuda")

            def step():
                for i in range(accumulation):
                    batch = ids[i * micro:(i + 1) * micro]
                    loss = model(input_ids=batch, labels=batch).loss / accumulation
                    loss.backward()
                torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                return loss

            try:
                step()
                torch.cuda.synchronize()
                steps = 1 if quick else 3
                t0 = time.time()
                for _ in range(steps):
                    loss = step()
                torch.cuda.synchronize()
                t = (time.time() - t0) / steps
                emit(kind="lora-training", impl="torch", weights=str(dtype).replace("torch.", ""), sequence=1024, micro_batch=micro, grad_accumulation=accumulation, lora_dropout=dropout,
                     tokens_per_s=round(16 * 1024 / t), s_per_step=round(t, 3), loss=float(loss) * accumulation, peak_gpu_bytes_allocated=torch.cuda.max_memory_allocated())
            except torch.cuda.OutOfMemoryError as e:
                emit(kind="error", what=f"lora-training {dtype} micro {micro}", reason=str(e)[:200])
            del model, base, opt


def full_training(cfg, Qwen3ForCausalLM):
    """Full-parameter DAPT as the EnMed card runs it: every weight trains (AdamW, f32 master weights
    and states), causal-LM loss on packed sequences of 1024, effective batch 16; bf16 autocast and
    plain fp32. The peer of `fleuve train dapt` (tfjs runtime) and of DAPT by LoRA + merge."""
    for autocast in (True, False):
        for micro, accumulation in ((4, 4), (16, 1)):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            with torch.device("cuda"):
                model = Qwen3ForCausalLM(cfg).float()
            model.train()
            opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
            ids = torch.randint(0, 151936, (micro * accumulation, 1024), device="cuda")

            def step():
                for i in range(accumulation):
                    batch = ids[i * micro:(i + 1) * micro]
                    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                        loss = model(input_ids=batch, labels=batch).loss / accumulation
                    loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                return loss

            try:
                step()
                torch.cuda.synchronize()
                steps = 1 if quick else 3
                t0 = time.time()
                for _ in range(steps):
                    loss = step()
                torch.cuda.synchronize()
                t = (time.time() - t0) / steps
                emit(kind="full-training", impl="torch", weights="f32 master, bf16 autocast" if autocast else "fp32", sequence=1024, micro_batch=micro, grad_accumulation=accumulation,
                     tokens_per_s=round(16 * 1024 / t), s_per_step=round(t, 3), loss=float(loss) * accumulation, peak_gpu_bytes_allocated=torch.cuda.max_memory_allocated())
            except torch.cuda.OutOfMemoryError as e:
                emit(kind="error", what=f"full-training autocast={autocast} micro {micro}", reason=str(e)[:200])
            del model, opt


def dapt_ids(n, vocab):
    """bench/gpu/kernels.ts daptIds: the same token ids (an LCG from seed 12345, id = (x >> 8) mod vocab)."""
    x, out = 12345, []
    for _ in range(n):
        x = (1664525 * x + 1013904223) & 0xFFFFFFFF
        out.append((x >> 8) % vocab)
    return out


def dapt_training(Qwen3Config, Qwen3ForCausalLM):
    """The peer of bench/gpu/kernels.ts --only-dapt (fleuve's WGSL full-parameter trainer): every
    weight trains, tied embeddings included; f32 master weights, bf16 autocast, torch.optim.AdamW
    (fused=True, f32 states), clipping at 1.0, constant lr 2e-5, weight decay 0.01; 8 sequences of
    1024 a step (1.7B as 2 micro-batches of 4: its activations at 8 do not fit 80 GB) of dapt_ids'
    tokens, fleuve's exactly; Qwen3-0.6B and 1.7B shapes, transformers' initialisation (sdpa)."""
    shapes = [("Qwen3-0.6B-shaped", 1024, 3072, 8, 1)] + ([] if quick else [("Qwen3-1.7B-shaped", 2048, 6144, 4, 2)])
    for name, hidden, inter, micro, accumulation in shapes:
        cfg = Qwen3Config(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=2 if quick else 28, num_attention_heads=16, num_key_value_heads=8,
                          head_dim=128, vocab_size=151936, tie_word_embeddings=True, rope_theta=1e6, max_position_embeddings=4096)
        cfg._attn_implementation = "sdpa"
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        with torch.device("cuda"):
            model = Qwen3ForCausalLM(cfg).float()
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01, fused=True)
        seq = 1024
        ids = torch.tensor(dapt_ids(micro * accumulation * seq, 151936), device="cuda").view(micro * accumulation, seq)

        def step():
            total = 0.0  # the mean of the micro-batches' losses (fleuve's step loss)
            for i in range(accumulation):
                batch = ids[i * micro:(i + 1) * micro]
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss = model(input_ids=batch, labels=batch).loss / accumulation
                loss.backward()
                total = total + loss.detach()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            return total

        try:
            losses = [step()]  # warm-up
            torch.cuda.synchronize()
            steps = 1 if quick else 3
            t0 = time.time()
            for _ in range(steps):
                losses.append(step())
            torch.cuda.synchronize()
            t = (time.time() - t0) / steps
            loss = losses[-1]
            emit(kind="dapt-training", impl="torch", model=name, weights="f32 master, bf16 autocast, AdamW fused (f32 states)", trains="every weight, tied embeddings included",
                 parameters=sum(p.numel() for p in model.parameters()), sequence=seq, micro_batch=micro, grad_accumulation=accumulation,
                 tokens_per_s=round(micro * accumulation * seq / t), s_per_step=round(t, 3), loss=float(loss),
                 losses=[round(float(x), 4) for x in losses], peak_gpu_bytes_allocated=torch.cuda.max_memory_allocated())
        except torch.cuda.OutOfMemoryError as e:
            emit(kind="error", what=f"dapt-training {name}", reason=str(e)[:200])
        del model, opt


if __name__ == "__main__":
    main()
