# PyTorch CPU reference for bench/lm-smol.ts at the SmolLM2-135M shape (random weights), called
# by bench/lm.ts when `import torch` works: `python3 bench/lm_smol_torch.py sample|concurrent|train`
# prints one JSON line with the best thread count's tokens/s; `--check` exits 0 when torch loads.
import json, math, resource, sys, time

try:
    import torch
    import torch.nn.functional as F
except Exception:
    sys.exit(1)
if sys.argv[1:] == ["--check"]:
    sys.exit(0)

C, L, H, KV, I, V, D = 576, 30, 9, 3, 1536, 49152, 64
THETA, EPS = 100000.0, 1e-5


def attention(q, k, v, causal):
    """softmax(q·kᵀ/√d + causal mask)·v, written out: torch 1.13 (Debian's) has no scaled_dot_product_attention."""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        T = q.shape[-2]
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(s, -1) @ v


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(1)
        p = lambda *s: torch.nn.Parameter(torch.randn(*s, generator=g) * 0.02)
        self.emb = p(V, C)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.n1, m.n2 = torch.nn.Parameter(torch.ones(C)), torch.nn.Parameter(torch.ones(C))
            m.q, m.k, m.v, m.o = p(H * D, C), p(KV * D, C), p(KV * D, C), p(C, H * D)
            m.g, m.u, m.d = p(I, C), p(I, C), p(C, I)
            self.layers.append(m)
        self.norm = torch.nn.Parameter(torch.ones(C))
        self.inv = 1.0 / THETA ** (torch.arange(0, D, 2).float() / D)

    def rope(self, x, pos):  # x (B, h, T, D)
        a = pos[:, None].float() * self.inv[None, :]
        cos, sin = torch.cat([a.cos(), a.cos()], -1), torch.cat([a.sin(), a.sin()], -1)
        x1, x2 = x[..., : D // 2], x[..., D // 2 :]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def forward(self, ids, start=0, cache=None):
        B, T = ids.shape
        rms = lambda x, w: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w
        x = self.emb[ids]
        pos = torch.arange(start, start + T)
        for i, m in enumerate(self.layers):
            h = rms(x, m.n1)
            q = self.rope((h @ m.q.T).view(B, T, H, D).transpose(1, 2), pos)
            k = self.rope((h @ m.k.T).view(B, T, KV, D).transpose(1, 2), pos)
            v = (h @ m.v.T).view(B, T, KV, D).transpose(1, 2)
            if cache is not None:
                if i in cache:
                    k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
                cache[i] = (k, v)
            k, v = k.repeat_interleave(H // KV, 1), v.repeat_interleave(H // KV, 1)
            a = attention(q, k, v, causal=(T > 1 and start == 0))
            x = x + a.transpose(1, 2).reshape(B, T, H * D) @ m.o.T
            h = rms(x, m.n2)
            x = x + (F.silu(h @ m.g.T) * (h @ m.u.T)) @ m.d.T
        return rms(x, self.norm) @ self.emb.T


def sample(model, prompt, n, steps):
    with torch.no_grad():
        cache = {}
        logits = model(prompt.repeat(n, 1), 0, cache)[:, -1]
        pos = prompt.shape[1]
        for _ in range(steps - 1):
            tok = torch.multinomial(F.softmax(logits, -1), 1)
            logits = model(tok, pos, cache)[:, -1]
            pos += 1


def run(mode, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Model()
    if mode == "sample":
        prompt = torch.randint(0, 49000, (1, 32))
        sample(model, prompt, 2, 4)
        t = time.perf_counter(); sample(model, prompt, 2, 64); dt = time.perf_counter() - t
        return 128 / dt
    if mode == "concurrent":
        reqs = [torch.randint(0, 49000, (1, 16 + 2 * i)) for i in range(16)]
        t = time.perf_counter()
        for r in reqs:
            sample(model, r, 2, 64)
        return 16 * 128 / (time.perf_counter() - t)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    prompts = [torch.randint(0, 49000, (64,)) for _ in range(8)]
    seqs = torch.stack([torch.cat([p, torch.randint(0, 49000, (64,))]) for p in prompts for _ in range(2)])
    ref = -700 + torch.rand(16)
    def step():
        logits = model(seqs[:, :-1])[:, 63:]
        lp = torch.log_softmax(logits, -1).gather(-1, seqs[:, 64:, None]).squeeze(-1).sum(-1)
        r = lp - ref
        loss = -F.logsigmoid(0.1 * (r[0::2] - r[1::2])).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    step()
    times = []
    for _ in range(2):
        t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
    return 16 * 128 / min(times)


mode = sys.argv[1]
best = {}
for threads in (1, 2):
    best[threads] = round(run(mode, threads), 1)
out = {"torch": torch.__version__, "tokens_per_s_by_threads": best, "tokens_per_s": max(best.values()), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
print(json.dumps(out))
