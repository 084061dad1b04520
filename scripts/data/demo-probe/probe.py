"""Learnability probe of the demo sample, in PyTorch (not fleuve's runtime; a measurement aid).

A Qwen3-shaped model (2 layers, RMSNorm, q/k norms, RoPE, SwiGLU; plain multi-head attention, not
GQA) is pre-trained on the general prose (300 steps of 16 x 64 tokens), then continues on the demo
corpus (DAPT) for each epoch count given; after each: held-out loss, MCQA 0-shot accuracy on the 200
test items by summed option log-likelihood (the question block alone, and fleuve's whole 0-shot
prompt cut to its last 256 tokens), cloze accuracy on the test facts (a corpus sentence, and a
held-out one, cut before the value; 5 values of the attribute as options), then a full fine-tune
on the MCQA pool (150 steps of 8, loss on the answer) and MCQA accuracy again. One CPU thread.

    node --import tsx scripts/data/demo-probe/dump.ts /tmp/probe.json
    python scripts/data/demo-probe/probe.py /tmp/probe.json 1,3,10 64     # epochs, hidden size
"""
import json, math, sys, time, random
import torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(0); random.seed(0)
d = json.load(open(sys.argv[1]))
V, H, L, NH, HD, I = 384, 64, 2, 4, 16, 192
EPOCHS = [int(x) for x in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1, 3, 10]
H = int(sys.argv[3]) if len(sys.argv) > 3 else 64
HD = H // NH; I = 3 * H
class RMS(nn.Module):
    def __init__(s, n): super().__init__(); s.w = nn.Parameter(torch.ones(n))
    def forward(s, x): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * s.w
def rope(x):
    T = x.shape[-2]; inv = 1.0 / (10000 ** (torch.arange(0, HD, 2).float() / HD)); f = torch.outer(torch.arange(T).float(), inv)
    c, s_ = torch.cat([f.cos()] * 2, -1), torch.cat([f.sin()] * 2, -1)
    x1, x2 = x[..., :HD // 2], x[..., HD // 2:]
    return x * c + torch.cat([-x2, x1], -1) * s_
class Block(nn.Module):
    def __init__(s):
        super().__init__(); s.n1, s.n2 = RMS(H), RMS(H); s.qkv = nn.Linear(H, 3 * H, bias=False); s.o = nn.Linear(H, H, bias=False)
        s.qn, s.kn = RMS(HD), RMS(HD); s.g = nn.Linear(H, I, bias=False); s.u = nn.Linear(H, I, bias=False); s.dn = nn.Linear(I, H, bias=False)
    def forward(s, x):
        B, T, _ = x.shape; q, k, v = s.qkv(s.n1(x)).view(B, T, 3, NH, HD).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(rope(s.qn(q)), rope(s.kn(k)), v, is_causal=True)
        x = x + s.o(a.transpose(1, 2).reshape(B, T, H)); h = s.n2(x)
        return x + s.dn(F.silu(s.g(h)) * s.u(h))
class M(nn.Module):
    def __init__(s):
        super().__init__(); s.e = nn.Embedding(V, H); s.b = nn.ModuleList(Block() for _ in range(L)); s.n = RMS(H); s.h = nn.Linear(H, V, bias=False)
        for p in s.parameters():
            if p.dim() > 1: nn.init.normal_(p, 0, 0.02)
    def forward(s, x):
        x = s.e(x)
        for b in s.b: x = b(x)
        return s.h(s.n(x))
def pack(docs, T):
    ids = [t for doc in docs for t in doc + d["eos"]]
    return torch.tensor([ids[i:i + T] for i in range(0, len(ids) - T + 1, T)])
def train(m, seqs, steps, lr, bs=16):
    opt = torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.0); n = len(seqs); losses = []
    for step in range(steps):
        for g in opt.param_groups: g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        idx = torch.randint(0, n, (bs,)); x = seqs[idx]
        loss = F.cross_entropy(m(x[:, :-1]).reshape(-1, V), x[:, 1:].reshape(-1))
        opt.zero_grad(); loss.backward(); opt.step(); losses.append(loss.item())
    return losses
@torch.no_grad()
def heldout_loss(m, T=64):
    s = pack(d["heldout"], T); return F.cross_entropy(m(s[:, :-1]).reshape(-1, V), s[:, 1:].reshape(-1)).item()
@torch.no_grad()
def mcqa(m, key="short", ckey="sconts", W=256, items=None):
    right = 0
    items = d["items"] if items is None else items
    for it in items:
        p = it[key]; scores = []
        for c in it[ckey]:
            ids = (p + c)[-W:]; x = torch.tensor([ids]); lp = F.log_softmax(m(x[:, :-1]), -1)[0]
            tgt = torch.tensor(ids[1:]); n = len(c)
            scores.append(lp[-n:].gather(1, tgt[-n:, None]).sum().item())
        right += int(max(range(len(scores)), key=lambda i: scores[i]) == it["gold"])
    return right / len(items)
def cloze(m, name, split):
    its = [x for x in d[name] if x["split"] == split]
    return mcqa(m, "prompt", "conts", items=its), len(its)
def finetune(m, steps, lr=1e-3, bs=8, W=256):
    opt = torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.0); ex = d["train"]; losses = []
    for step in range(steps):
        for g in opt.param_groups: g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        tot = 0
        for e in random.sample(ex, bs):
            ids = e["full"][-W:]; n = len(e["full"]) - len(e["prompt"]); x = torch.tensor([ids])
            lp = F.log_softmax(m(x[:, :-1]), -1)[0]; tgt = torch.tensor(ids[1:])
            tot = tot - lp[-n:].gather(1, tgt[-n:, None]).mean() / bs
        opt.zero_grad(); tot.backward(); opt.step(); losses.append(tot.item())
    return losses
T = 64
base = M(); t0 = time.time()
bl = train(base, pack(d["prose"], T), 300, 3e-3)
print(f"hidden {H}: base: prose loss {bl[0]:.2f} -> {sum(bl[-20:])/20:.2f}; heldout {heldout_loss(base):.3f}; mcqa short {mcqa(base):.3f} full {mcqa(base, 'prompt', 'conts'):.3f} ({time.time()-t0:.0f}s)", flush=True)
corpus = pack(d["corpus"], T); spe = math.ceil(len(corpus) / 16)
for ep in EPOCHS:
    m = M(); m.load_state_dict(base.state_dict()); t0 = time.time()
    ls = train(m, corpus, ep * spe, 3e-3)
    ch = cloze(m, "clozeHeld", "test"); cs = cloze(m, "clozeSeen", "test")
    print(f"  cloze on test facts: seen sentence {cs[0]:.3f} (n={cs[1]}), held-out wording {ch[0]:.3f} (n={ch[1]})", flush=True)
    print(f"dapt {ep} epochs ({ep*spe} steps of 16x64): loss {sum(ls[:10])/10:.2f} -> {sum(ls[-20:])/20:.2f}; heldout {heldout_loss(m):.3f}; mcqa short {mcqa(m):.3f} full {mcqa(m, 'prompt', 'conts'):.3f} ({time.time()-t0:.0f}s)", flush=True)
    fl = finetune(m, 150)
    print(f"  + MCQA fine-tune 150 steps x 8 on the pool: loss {sum(fl[:10])/10:.2f} -> {sum(fl[-10:])/10:.2f}; test mcqa full {mcqa(m, 'prompt', 'conts'):.3f}", flush=True)
