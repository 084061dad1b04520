"""PyTorch's side of bench/cpu (run.sh runs it beside bench.ts): the same Qwen3 shapes, steps and
measurements in f32 on the CPU with torch.set_num_threads(2). The model is written out in torch as
modeling_qwen3 computes it (RMSNorm, per-head q/k norms, half-split RoPE, GQA, SwiGLU; attention by
scaled_dot_product_attention, transformers' default); LoRA as PEFT (y = Wx + s·B(A(dropout(x))),
base frozen). Training: forward, cross-entropy, backward, clip_grad_norm_(1.0), AdamW step.
Scoring: forward under inference_mode, log_softmax, the next tokens' log-probs and argmax.
  python bench/cpu/torch_peer.py --model demo|study|h128|h256|slice --task full|lora|score [--steps N]
Prints one JSON line."""
import argparse, json, math, os, time
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--model", default="demo")
p.add_argument("--task", default="score")
p.add_argument("--steps", type=int)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
shape = json.load(open(os.path.join(os.path.dirname(__file__), "shapes.json")))[a.model]
c = shape["config"]
batch, seq = shape[a.task]["batch"], shape[a.task]["seq"]
steps = a.steps or shape["steps"]
torch.manual_seed(7)
H, I, V, L = c["hidden_size"], c["intermediate_size"], c["vocab_size"], c["num_hidden_layers"]
NH, KV, D = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
EPS, THETA = 1e-6, 1000000.0
R, ALPHA, DROP = 16, 32, 0.05


class Lin(torch.nn.Module):
    def __init__(self, i, o, lora):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(o, i) * 0.02)
        self.lora = lora
        if lora:
            self.w.requires_grad_(False)
            self.a = torch.nn.Parameter((torch.rand(R, i) * 2 - 1) / math.sqrt(i))
            self.b = torch.nn.Parameter(torch.zeros(o, R))

    def forward(self, x):
        y = F.linear(x, self.w)
        if self.lora:
            y = y + (ALPHA / R) * F.linear(F.linear(F.dropout(x, DROP, self.training), self.a), self.b)
        return y


def rms(x, w):
    x32 = x.float()
    return w * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + EPS))


class Layer(torch.nn.Module):
    def __init__(self, lora):
        super().__init__()
        self.q, self.k, self.v = Lin(H, NH * D, lora), Lin(H, KV * D, lora), Lin(H, KV * D, lora)
        self.o = Lin(NH * D, H, lora)
        self.g, self.u, self.d = Lin(H, I, lora), Lin(H, I, lora), Lin(I, H, lora)
        self.n1, self.n2 = torch.nn.Parameter(torch.ones(H)), torch.nn.Parameter(torch.ones(H))
        self.qn, self.kn = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))
        if lora:
            for t in (self.n1, self.n2, self.qn, self.kn):
                t.requires_grad_(False)

    def forward(self, h, cos, sin):
        b, t, _ = h.shape
        x = rms(h, self.n1)
        q = rms(self.q(x).view(b, t, NH, D), self.qn).transpose(1, 2)
        k = rms(self.k(x).view(b, t, KV, D), self.kn).transpose(1, 2)
        v = self.v(x).view(b, t, KV, D).transpose(1, 2)
        rot = lambda z: torch.cat((-z[..., D // 2:], z[..., : D // 2]), -1)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = k.repeat_interleave(NH // KV, 1), v.repeat_interleave(NH // KV, 1)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.o(att.transpose(1, 2).reshape(b, t, NH * D))
        y = rms(h, self.n2)
        return h + self.d(F.silu(self.g(y)) * self.u(y))


class Model(torch.nn.Module):
    def __init__(self, lora):
        super().__init__()
        self.emb = torch.nn.Parameter(torch.randn(V, H) * 0.02)
        self.layers = torch.nn.ModuleList([Layer(lora) for _ in range(L)])
        self.norm = torch.nn.Parameter(torch.ones(H))
        self.head = None if c["tie_word_embeddings"] else torch.nn.Parameter(torch.randn(V, H) * 0.02)
        if lora:
            for t in (self.emb, self.norm, self.head):
                if t is not None:
                    t.requires_grad_(False)
        inv = 1.0 / (THETA ** (torch.arange(0, D, 2).float() / D))
        ang = torch.arange(seq).float()[:, None] * inv[None, :]
        ang = torch.cat((ang, ang), -1)
        self.cos, self.sin = ang.cos(), ang.sin()

    def forward(self, ids):
        h = F.embedding(ids, self.emb)
        for layer in self.layers:
            h = layer(h, self.cos, self.sin)
        return F.linear(rms(h, self.norm), self.emb if self.head is None else self.head)


model = Model(a.task == "lora")
seconds, cpu_seconds = [], []
if a.task == "score":
    model.eval()
    ids = torch.randint(0, V, (batch, seq))
    targets = torch.cat((ids[:, 1:], torch.zeros(batch, 1, dtype=torch.long)), 1)
    for s in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            logits = model(ids).view(batch * seq, V)
            lp = torch.log_softmax(logits, -1).gather(1, targets.view(-1, 1))
            am = logits.argmax(-1)
            _ = (lp.numpy().sum(), am.numpy().sum())
        if s > 0:
            seconds.append(time.perf_counter() - t0)
            cpu_seconds.append(time.process_time() - c0)
else:
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    for s in range(steps + 1):
        ids = torch.randint(0, V, (batch, seq))
        t0, c0 = time.perf_counter(), time.process_time()
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        _ = loss.item()
        if s > 0:
            seconds.append(time.perf_counter() - t0)
            cpu_seconds.append(time.process_time() - c0)
med = lambda xs: sorted(xs)[len(xs) // 2]
print(json.dumps({"side": "pytorch", "backend": f"torch {torch.__version__} f32, {torch.get_num_threads()} threads", "model": a.model, "task": a.task, "batch": batch, "seq": seq, "seconds": seconds, "cpu_seconds": cpu_seconds, "tokens_per_s": batch * seq / med(seconds), "tokens_per_cpu_s": batch * seq / med(cpu_seconds)}))
