"""PyTorch reference of the vqa MFB co-attention model, for side-by-side training speed.

Same architecture and shapes as src/model/net.ts (CNN + transformer encoders, QAtt, IAtt with
MFB per region and joint L2 norm, MFB/MFH fusion, KL loss, Adam with clipping). Prints one JSON
line with samples/s. Not part of the product or its tests: `npm run bench -- train` calls it.
"""
import argparse
import json
import math
import os
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def signed_sqrt(z):
    return torch.sqrt(F.relu(z)) - torch.sqrt(F.relu(-z))


class Mfb(nn.Module):
    def __init__(self, x_dim, y_dim, k, o, p):
        super().__init__()
        self.k, self.o, self.p = k, o, p
        self.x = nn.Linear(x_dim, k * o)
        self.y = nn.Linear(y_dim, k * o)

    def expand(self, xp, yp):
        return F.dropout(xp * yp, self.p, self.training)

    def pool(self, e):
        return signed_sqrt(e.reshape(*e.shape[:-1], self.o, self.k).sum(-1))

    def forward(self, x, y):
        return F.normalize(self.pool(self.expand(self.x(x), self.y(y))), dim=-1)


class Mfh(nn.Module):
    def __init__(self, x_dim, y_dim, k, o, p):
        super().__init__()
        self.b1 = Mfb(x_dim, y_dim, k, o, p)
        self.b2 = Mfb(x_dim, y_dim, k, o, p)

    def forward(self, x, y):
        e1 = self.b1.expand(self.b1.x(x), self.b1.y(y))
        e2 = self.b2.expand(self.b2.x(x) * self.b2.y(y), e1)
        return torch.cat([F.normalize(self.b1.pool(e1), dim=-1), F.normalize(self.b2.pool(e2), dim=-1)], -1)


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ffn, p):
        super().__init__()
        self.heads, self.p = heads, p
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ffn1, self.ffn2 = nn.Linear(d, ffn), nn.Linear(ffn, d)

    def forward(self, x, key_mask):
        b, t, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
        split = lambda m: m.reshape(b, t, self.heads, hd).transpose(1, 2)
        q, k, v = split(q), split(k), split(v)
        scores = q @ k.transpose(2, 3) / math.sqrt(hd)
        scores = scores.masked_fill(key_mask == 0, -1e9)
        w = F.dropout(torch.softmax(scores, -1), self.p, self.training)
        ctx = (w @ v).transpose(1, 2).reshape(b, t, d)
        h = x + F.dropout(self.out(ctx), self.p, self.training)
        return h + F.dropout(self.ffn2(F.relu(self.ffn1(self.norm2(h)))), self.p, self.training)


class Net(nn.Module):
    def __init__(self, cfg, vocab, answers):
        super().__init__()
        m = cfg
        d, p = m["d"], m["dropout"]
        self.p = p
        convs, norms, c_in = [], [], 3
        for c_out, s in zip(m["vision"]["channels"], m["vision"]["strides"]):
            convs.append(nn.Conv2d(c_in, c_out, 3, s, 1, bias=False))
            norms.append(nn.BatchNorm2d(c_out, momentum=0.1))
            c_in = c_out
        self.convs, self.norms = nn.ModuleList(convs), nn.ModuleList(norms)
        self.vproj = nn.Linear(c_in + 2, d)
        lang = m["language"]
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(lang["maxTokens"], d) * 0.02)
        self.layers = nn.ModuleList([EncoderLayer(d, lang["heads"], lang["ffnMultiplier"] * d, p) for _ in range(lang["layers"])])
        self.lnorm = nn.LayerNorm(d)
        qa, ia, fu = m["questionAttention"], m["imageAttention"], m["fusion"]
        self.qatt = nn.Sequential(nn.Linear(d, qa["hidden"]), nn.ReLU(), nn.Dropout(p), nn.Linear(qa["hidden"], qa["glimpses"]))
        self.region_mfb = Mfb(d, qa["glimpses"] * d, ia["k"], ia["o"], p)
        self.iatt = nn.Sequential(nn.Linear(ia["o"], ia["hidden"]), nn.ReLU(), nn.Dropout(p), nn.Linear(ia["hidden"], ia["glimpses"]))
        fusion_cls = Mfh if fu["kind"] == "mfh" else Mfb
        self.fusion = fusion_cls(ia["glimpses"] * d, qa["glimpses"] * d, fu["k"], fu["o"], p)
        out_dim = 2 * fu["o"] if fu["kind"] == "mfh" else fu["o"]
        self.classifier = nn.Linear(out_dim, answers)

    def forward(self, images, image_index, tokens, mask):
        b, t = tokens.shape
        x = F.dropout(self.emb(tokens) + self.pos[:t], self.p, self.training)
        key_mask = mask[:, None, None, :]
        for layer in self.layers:
            x = layer(x, key_mask)
        words = self.lnorm(x)
        q_logits = self.qatt(words).transpose(1, 2).masked_fill(mask[:, None, :] == 0, -1e9)
        q = (torch.softmax(q_logits, -1) @ words).reshape(b, -1)

        h = images
        for conv, norm in zip(self.convs, self.norms):
            h = F.relu(norm(conv(h)))
        n, c, gh, gw = h.shape
        ys = torch.linspace(-1, 1, gh, device=h.device).view(1, 1, gh, 1).expand(n, 1, gh, gw)
        xs = torch.linspace(-1, 1, gw, device=h.device).view(1, 1, 1, gw).expand(n, 1, gh, gw)
        h = torch.cat([h, xs, ys], 1).flatten(2).transpose(1, 2)
        per_image = self.vproj(h)
        region_proj = self.region_mfb.x(per_image)
        regions = per_image[image_index]
        e = self.region_mfb.expand(region_proj[image_index], self.region_mfb.y(q)[:, None, :])
        z = self.region_mfb.pool(e)
        z = z / z.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
        i_w = torch.softmax(self.iatt(z).transpose(1, 2), -1)
        v = (i_w @ regions).reshape(b, -1)
        return self.classifier(self.fusion(v, q))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=7)
    ap.add_argument("--vocab", type=int, default=80)
    ap.add_argument("--answers", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    cfg = json.load(open(a.config))["model"]
    dev = torch.device(a.device)
    net = Net(cfg, a.vocab, a.answers).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=7e-4, betas=(0.9, 0.99), eps=1e-9)
    s, t = cfg["imageSize"], cfg["language"]["maxTokens"]
    images = torch.randn(a.images, 3, s, s, device=dev)
    image_index = torch.arange(a.batch, device=dev) % a.images
    tokens = torch.randint(1, a.vocab, (a.batch, t), device=dev)
    mask = torch.ones(a.batch, t, device=dev)
    targets = F.one_hot(torch.arange(a.batch, device=dev) % a.answers, a.answers).float()
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    net.train()

    def step():
        opt.zero_grad()
        logp = torch.log_softmax(net(images, image_index, tokens, mask), -1)
        loss = (targets * (torch.log(targets.clamp_min(1e-12)) - logp)).sum(1).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    sync()
    secs = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        one = (images[:1], torch.zeros(1, dtype=torch.long, device=dev), tokens[:1], mask[:1])

        def warm_up(run, seconds=0.5):
            """Runs `run` for `seconds` (at least 3 times), as the vqa side does, before anything is timed."""
            until = time.perf_counter() + seconds
            for _ in range(3):
                run()
            while time.perf_counter() < until:
                run()
            sync()

        warm_up(lambda: net(*one))
        def median_seconds(run, reps=5):
            """Median over `reps` timings: single runs swing widely with OpenBLAS thread scheduling."""
            times = []
            for _ in range(reps):
                sync()
                t0 = time.perf_counter()
                run()
                sync()
                times.append(time.perf_counter() - t0)
            return sorted(times)[reps // 2]

        latency = median_seconds(lambda: [net(*one).argmax(-1).tolist() for _ in range(20)]) / 20
        warm_up(lambda: net(images, image_index, tokens, mask))
        batched = 10 * a.batch / median_seconds(lambda: [net(images, image_index, tokens, mask).topk(5, -1)[1].tolist() for _ in range(10)])
    print(json.dumps({
        "samples_per_s": a.batch * a.steps / secs,
        "step_ms": 1000 * secs / a.steps,
        "answer_latency_ms": 1000 * latency,
        "batched_answers_per_s": batched,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "blas": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"),
    }))


if __name__ == "__main__":
    main()
