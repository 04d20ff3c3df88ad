# PyTorch CPU peer of bench/lm.ts at the house GPT shape (V 260, d 256, 4 layers, 4 heads, ctx
# 256, GPT-2 blocks, tied head), random weights, one thread (PyTorch's best on these 2-core
# machines). Called by bench/lm.ts in the same run when `import torch` works:
#   python3 bench/lm_torch.py train    DPO step: 8 pairs x (64 prompt + 64 completion) tokens,
#                                       policy forward+backward, reference log-probs given, AdamW
#   python3 bench/lm_torch.py sample   2 completions x 64 new tokens with a KV cache
# Prints one JSON line {"tokens_per_s": …}; `--check` exits 0 when torch loads.
import json, math, os, sys, time

# one thread everywhere, OpenBLAS's own pool included (set before torch loads it)
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

try:
    import torch
    import torch.nn.functional as F
except Exception:
    sys.exit(1)
if sys.argv[1:] == ["--check"]:
    sys.exit(0)

V, N_POS, C, L, H = 260, 256, 256, 4, 4
D = C // H


def attention(q, k, v, causal):
    """softmax(q·kᵀ/√d + causal mask)·v, written out: torch 1.13 (Debian's) has no scaled_dot_product_attention."""
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        T = q.shape[-2]
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(s, -1) @ v


class GPT(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(1)
        p = lambda *s: torch.nn.Parameter(torch.randn(*s, generator=g) * 0.02)
        z = lambda *s: torch.nn.Parameter(torch.zeros(*s))
        o = lambda *s: torch.nn.Parameter(torch.ones(*s))
        self.wte, self.wpe = p(V, C), p(N_POS, C)
        self.blocks = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.g1, m.b1, m.g2, m.b2 = o(C), z(C), o(C), z(C)
            m.wa, m.ba, m.wp, m.bp = p(C, 3 * C), z(3 * C), p(C, C), z(C)
            m.wf, m.bf, m.wm, m.bm = p(C, 4 * C), z(4 * C), p(4 * C, C), z(C)
            self.blocks.append(m)
        self.gf, self.bf = o(C), z(C)

    def forward(self, ids, start=0, cache=None):
        B, T = ids.shape
        x = self.wte[ids] + self.wpe[start : start + T]
        for i, m in enumerate(self.blocks):
            h = F.layer_norm(x, (C,), m.g1, m.b1, 1e-5)
            q, k, v = (h @ m.wa + m.ba).split(C, -1)
            q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))
            if cache is not None:
                if i in cache:
                    k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
                cache[i] = (k, v)
            a = attention(q, k, v, causal=(T > 1 and start == 0))
            x = x + a.transpose(1, 2).reshape(B, T, C) @ m.wp + m.bp
            h = F.layer_norm(x, (C,), m.g2, m.b2, 1e-5)
            x = x + F.gelu(h @ m.wf + m.bf, approximate="tanh") @ m.wm + m.bm
        return F.layer_norm(x, (C,), self.gf, self.bf, 1e-5) @ self.wte.T


def train(model):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    prompts = [torch.randint(0, 256, (64,)) for _ in range(8)]
    seqs = torch.stack([torch.cat([p, torch.randint(0, 256, (64,))]) for p in prompts for _ in range(2)])
    ref = -300 + torch.rand(16)

    def step():
        logits = model(seqs[:, :-1])[:, 63:]  # the positions that predict completion tokens
        lp = torch.log_softmax(logits, -1).gather(-1, seqs[:, 64:, None]).squeeze(-1).sum(-1)
        r = lp - ref
        loss = -F.logsigmoid(0.1 * (r[0::2] - r[1::2])).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    times, cpu = [], []
    for _ in range(4):
        t, c = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return 16 * 128, times, cpu


def sample(model):
    prompt = torch.randint(0, 256, (1, 70))

    def run(steps):
        with torch.no_grad():
            cache = {}
            logits = model(prompt.repeat(2, 1), 0, cache)[:, -1]
            pos = prompt.shape[1]
            for _ in range(steps - 1):
                tok = torch.multinomial(F.softmax(logits, -1), 1)
                logits = model(tok, pos, cache)[:, -1]
                pos += 1

    run(8)
    times, cpu = [], []
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        run(64)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return 128, times, cpu


mode = sys.argv[1] if len(sys.argv) > 1 else "train"
torch.set_num_threads(1)
torch.manual_seed(0)
model = GPT()
tokens, times, cpu = train(model) if mode == "train" else sample(model)
median = lambda xs: sorted(xs)[len(xs) // 2]
out = {
    "torch": torch.__version__,
    "threads": 1,
    "mode": mode,
    "tokens_per_s": round(tokens / median(times), 1),
    # per second of this process's CPU time: on a loaded machine, time spent descheduled is not counted
    "tokens_per_cpu_s": round(tokens / median(cpu), 1),
    "runs_ms": [round(t * 1000) for t in times],
}
print(json.dumps(out))
