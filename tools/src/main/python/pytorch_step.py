"""Times this project's training step in plain eager PyTorch: the reference `bench compare --pytorch` measures against.

    .venv-test/bin/python tools/src/main/python/pytorch_step.py CONFIG.json [--batch 2] [--steps 5]
        [--repeats 1] [--warmup 2] [--expect-params N] [--name NAME]

CONFIG.json is a model config as the project writes it (`./switchhead presets NAME > CONFIG.json`, or
ConfigJson.write). The script builds the same model with torch.nn modules, float32: pre-LN blocks,
dense or SwitchHead attention with XL relative positions (and the previous chunk's layer inputs as
memory, as the project's trainer keeps it) or RoPE, a ReLU feed-forward, the same dropout sites and
rate, the same initialisation scales, and the mean token cross-entropy. SwitchHead's value and
output experts run as a careful PyTorch user would write them: the (token, expert) pairs sorted by
expert, one matmul per expert over its rows, index_add_ back.

One step is what the project's `bench compare` times: forward, backward, global-norm gradient clip
(0.25) and an AdamW update (lr 1e-4, betas 0.9/0.999, eps 1e-8, weight decay 0), on one fixed
batch of random tokens. After --warmup steps, --repeats repetitions of --steps steps; a
repetition's figure is its mean ms/step, as in `bench compare`. Prints one JSON line: the parameter
count, median/min/max ms per step over the repetitions, the first and last step's loss, and the
process's peak RSS (VmHWM) after building and after stepping.

--expect-params N (the project's count) makes a model of another size an error (exit 2): a
reference that is not the same model would time something else. --params DIR starts from the
project's parameters instead of fresh ones (DIR/index.json maps each parameter's path to its shape,
DIR/<path with . for />.f32 holds its float32 values, DIR/tokens.i32 the [B, T+1] batch): with dropout
0 the printed per-step losses are then the project's own, which checks that both compute the same step. Threads: torch's default, one per
physical core of the machine (torch.get_num_threads()), as the project's TensorFlow uses them all.
"""

import argparse
import json
import math
import re
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    sys.exit(f"pytorch_step: {e}: this needs torch (torch==2.13.0+cpu, which .ci/python-env installs into .venv-test)")

GRADIENT_CLIP = 0.25  # bench compare's StepSettings
LEARNING_RATE = 1e-4
LN_EPS = 1e-5


class Unsupported(Exception):
    """A config this reference does not build (it says which field)."""


def normal_(t, std):
    with torch.no_grad():
        return t.normal_(0.0, std)


def sinusoids(positions, d):
    """[L, d]: sin on even channels, cos on odd, frequencies 10000^(-2i/d) (RelativePositions.sinusoids)."""
    inv_freq = 10000.0 ** (-2.0 * torch.arange(d // 2, dtype=torch.float64) / d)
    angles = positions[:, None].double() * inv_freq[None, :]
    return torch.stack((angles.sin(), angles.cos()), dim=-1).reshape(len(positions), d).float()


def rope_table(steps, head_dim):
    """cos and sin [T, n] of RoPE on the first n = dh/2 channels, halves not interleaved (Rope.table)."""
    n = head_dim // 2
    inv_freq = 10000.0 ** (-2.0 * torch.arange(n // 2, dtype=torch.float64) / n)
    angles = torch.arange(steps, dtype=torch.float64)[:, None] * inv_freq[None, :]
    doubled = torch.cat((angles, angles), dim=-1)
    return doubled.cos().float(), doubled.sin().float()


def rope(x, cos, sin):
    """Rotates the first n channels of x [B, H, T, dh]; the rest pass through (Rope.apply)."""
    n = cos.shape[-1]
    x1, x2, rest = x[..., : n // 2], x[..., n // 2 : n], x[..., n:]
    rotated = torch.cat((x1, x2), dim=-1) * cos + torch.cat((-x2, x1), dim=-1) * sin
    return torch.cat((rotated, rest), dim=-1)


def rel_shift(per_distance, memory):
    """Transformer-XL's shift, [B, H, T, Tk] per distance -> per (query, key): out[i, j] = in[i, j - i + T - 1].

    The same pad-and-slice as RelativePositions.shiftedScores (entries of keys after the query,
    masked later, read the zero column or the next row).
    """
    b, h, t, tk = per_distance.shape
    rows = F.pad(per_distance, (0, 1)).reshape(b, h, t * (tk + 1))
    return rows[:, :, t - 1 : t - 1 + t * tk].reshape(b, h, t, tk)


class XlPositions(nn.Module):
    """XL position keys [H, Tk, dh]: sinusoids of distances -(Tk-1)..0 scaled by dh^-1/4, projected by pos_to_pk."""

    def __init__(self, d, heads, head_dim, init_scale):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.pos_to_pk = nn.Linear(d, heads * head_dim, bias=False)
        normal_(self.pos_to_pk.weight, init_scale / math.sqrt(d))

    def forward(self, keys):
        distances = torch.arange(1 - keys, 1, dtype=torch.float32)
        sin = sinusoids(distances, self.pos_to_pk.in_features) * self.head_dim ** -0.25
        return self.pos_to_pk(sin).view(keys, self.heads, self.head_dim).transpose(0, 1)


def causal_attention(q, k, v, position_scores, memory):
    """softmax(q k^T + position scores, causal over memory then chunk) v; q and k carry dh^-1/4 each."""
    t, tk = q.shape[2], k.shape[2]
    scores = q @ k.transpose(-1, -2)
    if position_scores is not None:
        scores = scores + position_scores
    hidden = torch.ones(t, tk, dtype=torch.bool).triu(memory + 1)  # query i sees keys 0 .. M + i
    return scores.masked_fill(hidden, float("-inf")).softmax(dim=-1) @ v


class DenseAttention(nn.Module):
    """Multi-head attention, no biases; XL adds pos_to_pk and Transformer-XL's u/v biases (DenseAttention.java)."""

    def __init__(self, d, c, init_scale):
        super().__init__()
        self.h, self.dh, self.xl = c["heads"], c["headDim"], c["positional"] == "XL"
        hd = self.h * self.dh
        self.q, self.k, self.v = (nn.Linear(d, hd, bias=False) for _ in range(3))
        self.o = nn.Linear(hd, d, bias=False)
        for lin in (self.q, self.k, self.v):
            normal_(lin.weight, init_scale / math.sqrt(d))
        normal_(self.o.weight, init_scale / math.sqrt(hd))
        if self.xl:
            self.positions = XlPositions(d, self.h, self.dh, init_scale)
            self.u_bias = nn.Parameter(torch.zeros(self.h, 1, self.dh))
            self.v_bias = nn.Parameter(torch.zeros(self.h, 1, self.dh))

    def split(self, x):  # [B, T, H*dh] -> [B, H, T, dh]
        return x.view(x.shape[0], x.shape[1], self.h, self.dh).transpose(1, 2)

    def forward(self, xq, xkv, memory, rope_cs):
        quarter = self.dh ** -0.25
        q, k, v = self.split(self.q(xq)) * quarter, self.split(self.k(xkv)) * quarter, self.split(self.v(xkv))
        if self.xl:
            position_keys = self.positions(xkv.shape[1])
            pos = rel_shift((q + self.v_bias) @ position_keys.transpose(-1, -2), memory)
            out = causal_attention(q + self.u_bias, k, v, pos, memory)
        else:
            cos, sin = rope_cs
            out = F.scaled_dot_product_attention(rope(q, cos, sin), rope(k, cos, sin), v, is_causal=True, scale=1.0)
        return self.o(out.transpose(1, 2).reshape(xq.shape[0], xq.shape[1], -1))


class ExpertProjection(nn.Module):
    """Experts [H*E, d_in, d_out]; rows of x times their chosen experts, gate-weighted, summed into `out_rows` rows.

    The (row, slot) pairs are sorted by expert, each expert multiplies its contiguous rows in one
    matmul, and index_add_ sums the products into their output rows.
    """

    def __init__(self, experts, d_in, d_out, std):
        super().__init__()
        self.weight = nn.Parameter(normal_(torch.empty(experts, d_in, d_out), std))

    def forward(self, x, ids, gates, out_index, out_rows):
        """x [N, d_in]; ids, gates [N, k]; out_index [N, k]: the output row of each slot."""
        k = ids.shape[1]
        flat_ids = ids.reshape(-1)
        order = flat_ids.argsort()
        counts = torch.bincount(flat_ids, minlength=self.weight.shape[0]).tolist()
        rows = torch.div(order, k, rounding_mode="floor")  # the input row of each sorted slot
        sorted_x = x.index_select(0, rows)
        products = [part @ w for part, w in zip(sorted_x.split(counts), self.weight)]
        products = torch.cat(products) * gates.reshape(-1)[order, None]
        out = x.new_zeros(out_rows, self.weight.shape[2])
        return out.index_add_(0, out_index.reshape(-1)[order], products)


class SwitchHeadAttention(nn.Module):
    """SwitchHead (SwitchHeadAttention.java): dense q and k, expert mixtures for v and o, sigmoid gates, top-k per head."""

    def __init__(self, d, c, init_scale):
        super().__init__()
        if c["experts"] == 1:
            raise Unsupported("attention.experts 1 (a dense V/O with an output gate)")
        if c["kRule"]["type"] != "fixed":
            raise Unsupported(f"attention.kRule {c['kRule']['type']} (only fixed k)")
        if c["expertDropout"] != 0:
            raise Unsupported(f"attention.expertDropout {c['expertDropout']} (only 0)")
        self.h, self.e, self.top, self.dh, self.xl = c["heads"], c["experts"], c["k"], c["headDim"], c["positional"] == "XL"
        hd, he = self.h * self.dh, self.h * self.e
        self.q, self.k = nn.Linear(d, hd, bias=False), nn.Linear(d, hd, bias=False)
        for lin in (self.q, self.k):
            normal_(lin.weight, init_scale / math.sqrt(d))
        self.v = ExpertProjection(he, d, self.dh, init_scale / math.sqrt(d))
        self.o = ExpertProjection(he, self.dh, d, init_scale / math.sqrt(hd))
        self.sel_v = nn.Parameter(self.selection_init(he, d, init_scale / math.sqrt(d)))
        self.sel_o = nn.Parameter(self.selection_init(he, d, init_scale / math.sqrt(d)))
        if self.xl:
            self.positions = XlPositions(d, self.h, self.dh, init_scale)

    @staticmethod
    def selection_init(rows, d, std):
        """Normal rows renormalised to unit length, then rescaled to the draw's std (Initializer.rowRenormalized)."""
        w = torch.empty(rows, d).normal_(0.0, std)
        unit = w / w.norm(dim=1, keepdim=True)
        return unit * (w.std(unbiased=False) / unit.std(unbiased=False))

    def select(self, x, selection):
        """Per head the top-k experts by logit (no gradient through the choice) and their sigmoid gates: ids in [0, H*E)."""
        logits = (x @ selection.t()).view(-1, self.h, self.e)
        chosen = logits.detach().topk(self.top, dim=-1).indices  # [N, H, k]
        gates = logits.sigmoid().gather(-1, chosen)
        ids = chosen + torch.arange(self.h)[None, :, None] * self.e
        return ids.reshape(-1, self.h * self.top), gates.reshape(-1, self.h * self.top)

    def forward(self, xq, xkv, memory, rope_cs):
        b, t, d = xq.shape
        tk = xkv.shape[1]
        quarter = self.dh ** -0.25
        q = self.q(xq).view(b, t, self.h, self.dh).transpose(1, 2) * quarter
        k = self.k(xkv).view(b, tk, self.h, self.dh).transpose(1, 2) * quarter
        kv_flat, q_flat = xkv.reshape(-1, d), xq.reshape(-1, d)
        n_kv, n_q = kv_flat.shape[0], q_flat.shape[0]

        # Values: slot (token, head, j) adds into row token*H + head of [Nk*H, dh].
        ids, gates = self.select(kv_flat, self.sel_v)
        slot_rows = (torch.arange(n_kv)[:, None] * self.h + torch.arange(self.h).repeat_interleave(self.top)[None, :])
        v = self.v(kv_flat, ids, gates, slot_rows, n_kv * self.h).view(b, tk, self.h, self.dh).transpose(1, 2)

        if self.xl:
            pos = rel_shift(q @ self.positions(tk).transpose(-1, -2), memory)
            attended = causal_attention(q, k, v, pos, memory)
        else:
            cos, sin = rope_cs
            attended = F.scaled_dot_product_attention(rope(q, cos, sin), rope(k, cos, sin), v, is_causal=True, scale=1.0)

        # Output: per-head rows [N*H, dh], slot (token, head, j) adds into token's row of [N, D].
        per_head = attended.transpose(1, 2).reshape(-1, self.dh)
        ids, gates = self.select(q_flat, self.sel_o)
        out_rows = torch.arange(n_q)[:, None].expand(n_q, self.h * self.top)
        out = self.o(per_head, ids.view(-1, self.top), gates.view(-1, self.top), out_rows.reshape(-1, self.top), n_q)
        return out.view(b, t, d)


class FeedForward(nn.Module):
    """w2(dropout(relu(x w1 + b1))) + b2 (DenseFeedForward.java)."""

    def __init__(self, d, hidden, init_scale, dropout):
        super().__init__()
        self.w1, self.w2 = nn.Linear(d, hidden), nn.Linear(hidden, d)
        normal_(self.w1.weight, init_scale / math.sqrt(d))
        normal_(self.w2.weight, init_scale / math.sqrt(hidden))
        nn.init.zeros_(self.w1.bias)
        nn.init.zeros_(self.w2.bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.w2(self.dropout(F.relu(self.w1(x))))


class Block(nn.Module):
    """x + dropout(attention(LN(x))), then x + dropout(ff(LN(x))); with memory, keys and values see LN(cat(memory, x))."""

    def __init__(self, c):
        super().__init__()
        d, a, s = c["dModel"], c["attention"], c["initScale"]
        self.attention_norm, self.ff_norm = nn.LayerNorm(d, eps=LN_EPS), nn.LayerNorm(d, eps=LN_EPS)
        self.attention = SwitchHeadAttention(d, a, s) if a["type"] == "switchhead" else DenseAttention(d, a, s)
        self.ff = FeedForward(d, c["feedForward"]["hidden"], s, c["dropout"])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x, memory, rope_cs):
        m = 0 if memory is None else memory.shape[1]
        kv = self.attention_norm(x if memory is None else torch.cat((memory.detach(), x), dim=1))
        x = x + self.dropout(self.attention(kv[:, m:], kv, m, rope_cs))
        return x + self.dropout(self.ff(self.ff_norm(x)))


class LanguageModel(nn.Module):
    """Embedding, blocks, final LayerNorm, untied output layer (LanguageModel.java)."""

    def __init__(self, c):
        super().__init__()
        if c["feedForward"]["type"] != "dense":
            raise Unsupported(f"feedForward.type {c['feedForward']['type']} (only dense)")
        if c["attention"]["positional"] not in ("XL", "ROPE"):
            raise Unsupported(f"attention.positional {c['attention']['positional']}")
        d, v = c["dModel"], c["vocabSize"]
        self.xl = c["attention"]["positional"] == "XL"
        self.embedding = nn.Embedding(v, d)
        normal_(self.embedding.weight, 1.0)
        self.dropout = nn.Dropout(c["dropout"])
        self.layers = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.final_norm = nn.LayerNorm(d, eps=LN_EPS)
        self.output = nn.Linear(d, v)
        normal_(self.output.weight, 1 / math.sqrt(d))
        nn.init.zeros_(self.output.bias)
        self.rope_cs = None if self.xl else rope_table(c["context"], c["attention"]["headDim"])

    def forward(self, tokens, targets, memories):
        """The mean token cross-entropy, and (XL) each layer's input: the next chunk's memory."""
        x = self.dropout(self.embedding(tokens))
        next_memories = []
        for i, block in enumerate(self.layers):
            if self.xl:
                next_memories.append(x.detach())
            x = block(x, memories[i] if self.xl else None, self.rope_cs)
        logits = self.output(self.final_norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1)), next_memories


def project_key(path):
    """The torch parameter a project parameter path names: layers/0/ff/w1 -> layers.0.ff.w1.weight."""
    key = path.replace("/", ".")
    key = re.sub(r"\.ff\.b([12])$", r".ff.w\1.bias", key)
    key = re.sub(r"(\.ff\.w[12]|\.attention\.[qkvo])$", r"\1.weight", key)
    key = re.sub(r"\.attention\.pos_to_pk$", ".attention.positions.pos_to_pk.weight", key)
    return {"embedding": "embedding.weight", "output.w": "output.weight", "output.b": "output.bias"}.get(key, key)


def load_project_params(model, directory):
    """Copies the project's parameters in; its matrices are [in, out] where nn.Linear keeps [out, in]."""
    import numpy as np

    with open(f"{directory}/index.json") as f:
        index = json.load(f)
    linears = {name for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    params = dict(model.named_parameters())
    for path, shape in index.items():
        key = project_key(path)
        if key not in params:
            sys.exit(f"pytorch_step: {directory}: the project's parameter {path} ({key}) is not in the PyTorch model")
        value = torch.from_numpy(np.fromfile(f"{directory}/{path.replace('/', '.')}.f32", dtype="<f4").reshape(shape))
        if key.rsplit(".", 1)[0] in linears and key.endswith(".weight"):
            value = value.t()
        target = params.pop(key)
        with torch.no_grad():
            target.copy_(value.reshape(target.shape))
    if params:
        sys.exit(f"pytorch_step: {directory} lacks the PyTorch model's {sorted(params)}")
    return torch.from_numpy(np.fromfile(f"{directory}/tokens.i32", dtype="<i4").astype("int64"))


def peak_rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no VmHWM line (the RSS figures need Linux)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config", help="a model config JSON as the project writes it")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per repetition")
    ap.add_argument("--repeats", type=int, default=1, help="timed repetitions")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--expect-params", type=int, help="the project's parameter count; another is an error")
    ap.add_argument("--name", help="the model's name in the output (default: the config file's)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--params", metavar="DIR", help="start from the project's parameters and batch in DIR")
    args = ap.parse_args()
    for flag in ("batch", "steps", "repeats"):
        if getattr(args, flag) < 1:
            sys.exit(f"pytorch_step: --{flag} ({getattr(args, flag)}) must be >= 1")

    with open(args.config) as f:
        c = json.load(f)
    torch.manual_seed(args.seed)
    try:
        model = LanguageModel(c)
    except Unsupported as e:
        sys.exit(f"pytorch_step: {args.config}: this reference does not build {e}")
    parameters = sum(p.numel() for p in model.parameters())
    if args.expect_params is not None and parameters != args.expect_params:
        print(f"pytorch_step: {args.config}: the PyTorch model has {parameters:,} parameters but --expect-params is "
              f"{args.expect_params:,} (the project's count): it is not the same model", file=sys.stderr)
        sys.exit(2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, fused=True)
    t = c["context"]
    tokens = torch.randint(0, c["vocabSize"], (args.batch, t + 1))
    if args.params:
        tokens = load_project_params(model, args.params).view(args.batch, t + 1)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    memories = [torch.zeros(args.batch, t, c["dModel"]) for _ in range(c["layers"])] if model.xl else []
    model.train()
    built_rss = peak_rss_bytes()

    losses = []

    def step():
        nonlocal memories
        loss, next_memories = model(inputs, targets, memories)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRADIENT_CLIP)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        memories = next_memories  # the trainer's XL memory advances with every step
        losses.append(loss.item())

    for _ in range(args.warmup):
        step()
    millis = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        millis.append((time.perf_counter() - start) * 1e3 / args.steps)
    print(json.dumps({
        "model": args.name or args.config.rsplit("/", 1)[-1].removesuffix(".json"),
        "parameters": parameters,
        "parameters_checked": args.expect_params is not None,
        "batch": args.batch, "steps": args.steps, "repeats": args.repeats, "warmup": args.warmup,
        "median_ms": statistics.median(millis), "min_ms": min(millis), "max_ms": max(millis),
        "first_loss": losses[0], "last_loss": losses[-1], "ln_vocab": math.log(c["vocabSize"]), "losses": losses,
        "peak_rss_built_bytes": built_rss, "peak_rss_bytes": peak_rss_bytes(),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
