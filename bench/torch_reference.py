"""PyTorch reference of the vqa network, for side-by-side training speed and a parity check.

The same function as src/model/net.ts for the config it is given, in the current form: the CNN
(TensorFlow's 'same' padding, batch norm, coordinate channels), the pre-norm transformer, question
self-attention, MFB-scored image attention (attention.norm), the modules (word-guide,
embedding-question, relational, places, glimpse-pair, staged by the weight stages.on) and an MFB
or MFH fusion. `--parity DIR` loads the weights and a batch that `npm run bench -- torch-parity`
wrote, runs the forward in inference mode and prints the largest difference from the logits vqa
computed. Without it, prints one JSON line with training samples/s and answer timings. Not part of
the product or its tests.
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


def l2_normalize(z, dims):
    """z / sqrt(sum z^2 + eps^2), eps = 1e-12, as src/nn/functions.ts."""
    return z / torch.sqrt((z * z).sum(dims, keepdim=True) + 1e-24)


def masked_softmax(logits, mask, dim):
    """Softmax where mask = 0 entries get no weight, as src/nn/functions.ts."""
    masked = logits + (1 - mask) * -1e9
    e = torch.exp(masked - masked.max(dim, keepdim=True).values) * mask
    return e / (e.sum(dim, keepdim=True) + 1e-12)


def standardize(x, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(((x - mean) ** 2).mean(-1, keepdim=True) + eps)


def region_centres(h, w):
    """[h*w, 2]: x then y in [-1, 1] per region, row-major (src/vision/region_centres.ts)."""
    at = lambda i, n: -1.0 if n == 1 else -1 + 2 * i / (n - 1)
    return torch.tensor([[at(x, w), at(y, h)] for y in range(h) for x in range(w)])


def glimpse_mlp(d_in, hidden, glimpses, p):
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(p), nn.Linear(hidden, glimpses))


class Mfb(nn.Module):
    def __init__(self, x_dim, y_dim, k, o, p):
        super().__init__()
        self.k, self.o, self.p = k, o, p
        self.x = nn.Linear(x_dim, k * o)
        self.y = nn.Linear(y_dim, k * o)

    def expand(self, xp, yp):
        return F.dropout(xp * yp, self.p, self.training)

    def sum_pool(self, e):
        return e.reshape(*e.shape[:-1], self.o, self.k).sum(-1)

    def forward(self, x, y):
        return l2_normalize(signed_sqrt(self.sum_pool(self.expand(self.x(x), self.y(y)))), -1)


class Mfh(nn.Module):
    def __init__(self, x_dim, y_dim, k, o, p):
        super().__init__()
        self.block1 = Mfb(x_dim, y_dim, k, o, p)
        self.block2 = Mfb(x_dim, y_dim, k, o, p)

    def forward(self, x, y):
        b1, b2 = self.block1, self.block2
        e1 = b1.expand(b1.x(x), b1.y(y))
        e2 = b2.expand(b2.x(x) * b2.y(y), e1)
        return torch.cat([l2_normalize(signed_sqrt(b1.sum_pool(e1)), -1), l2_normalize(signed_sqrt(b2.sum_pool(e2)), -1)], -1)


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, p):
        super().__init__()
        self.heads, self.p = heads, p
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ffn1, self.ffn2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

    def forward(self, x, key_mask):
        b, t, d = x.shape
        hd = d // self.heads
        split = lambda m: m.reshape(b, t, self.heads, hd).transpose(1, 2)
        q, k, v = (split(m) for m in self.qkv(self.norm1(x)).split(d, dim=2))
        w = F.dropout(masked_softmax(q @ k.transpose(2, 3) / math.sqrt(hd), key_mask, 3), self.p, self.training)
        h = x + F.dropout(self.out((w @ v).transpose(1, 2).reshape(b, t, d)), self.p, self.training)
        return h + F.dropout(self.ffn2(F.relu(self.ffn1(self.norm2(h)))), self.p, self.training)


def same_padding(size, stride, kernel=3):
    """TensorFlow's 'same' padding [before, after] of one axis: the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Net(nn.Module):
    def __init__(self, cfg, vocab, answers):
        super().__init__()
        m = cfg
        d, p, att = m["d"], m["dropout"], m["attention"]
        self.d, self.p, self.blind, self.norm = d, p, m["blind"], att["norm"]
        self.modules_cfg = {mod["kind"]: mod for mod in m["modules"]}
        guide, rel, places, pair = (self.modules_cfg.get(k) for k in ("word-guide", "relational", "places", "glimpse-pair"))
        self.strides = m["vision"]["strides"]
        convs, norms, c_in = [], [], 3
        for c_out, s in zip(m["vision"]["channels"], self.strides):
            convs.append(nn.Conv2d(c_in, c_out, 3, s, 0, bias=False))
            norms.append(nn.BatchNorm2d(c_out, momentum=0.1, eps=1e-5))
            c_in = c_out
        self.convs, self.norms = nn.ModuleList(convs), nn.ModuleList(norms)
        side = m["imageSize"]
        for s in self.strides:
            side = -(-side // s)
        self.register_buffer("centres", region_centres(side, side))
        self.vproj = nn.Linear(c_in + 2, d)
        lang = m["language"]
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(lang["maxTokens"], d) * 0.02)
        self.layers = nn.ModuleList([EncoderLayer(d, lang["heads"], p) for _ in range(lang["layers"])])
        self.lnorm = nn.LayerNorm(d)
        g = att["glimpses"]
        vdim = g * d
        self.qatt = glimpse_mlp(d, att["hidden"], g, p)
        self.guide = guide
        if guide:
            self.wordatt = glimpse_mlp(d, att["hidden"], g, p)
            if guide["slope"] > 0:
                k = guide["slope"]
                self.slope = nn.Parameter(torch.tensor([0.0 if g == 1 else -k + 2 * k * i / (g - 1) for i in range(g)]))
        self.parts = g if guide and guide["perGlimpse"] else 1
        self.region_mfb = Mfb(d, vdim // self.parts, att["k"], att["o"], p)
        self.iatt = glimpse_mlp(att["o"], att["hidden"], 1 if self.parts > 1 else g, p)
        self.rel = rel
        image_dim = vdim
        if rel:
            self.rel_region = nn.Linear(d, rel["hidden"])
            self.rel_context = nn.Linear((3 if rel["guideInContext"] else 2) * vdim, rel["hidden"])
            self.rel_out = nn.Linear(rel["hidden"], rel["width"])
            self.rel_glimpses = nn.Linear(rel["width"], g)
            if rel["distanceScore"]:
                self.rel_distance = nn.Linear(vdim, g)
            image_dim += rel["width"] + vdim
        self.places = places
        if places:
            image_dim += 2 * g * (2 if rel else 1)
        self.pair = pair
        if pair:
            self.pair_mfb = Mfb(d, d, pair["k"], pair["o"], 0)
            image_dim += pair["o"]
        self.register_buffer("stages_on", torch.ones(()))
        fu = m["fusion"]
        if fu["kind"] not in ("mfb", "mfh"):
            raise SystemExit(f"torch reference: fusion '{fu['kind']}' is not written here (mfb, mfh)")
        self.fusion = (Mfh if fu["kind"] == "mfh" else Mfb)(image_dim, vdim, fu["k"], fu["o"], p)
        self.classifier = nn.Linear(2 * fu["o"] if fu["kind"] == "mfh" else fu["o"], answers)

    def staged(self, kind, x):
        return x * self.stages_on if self.modules_cfg[kind].get("staged") else x

    def forward(self, images, image_index, tokens, mask):
        b, t = tokens.shape
        embeddings = self.emb(tokens)
        x = F.dropout(embeddings + self.pos, self.p, self.training)
        key_mask = mask[:, None, None, :]
        for layer in self.layers:
            x = layer(x, key_mask)
        words = self.lnorm(x)

        def pool(mlp, keys, values, offsets=None):
            logits = mlp(keys) if offsets is None else mlp(keys) + offsets
            w = masked_softmax(logits.transpose(1, 2), mask[:, None, :], 2)
            return w, (w @ values).reshape(b, -1)

        q_weights, q = pool(self.qatt, words, embeddings if "embedding-question" in self.modules_cfg else words)

        h = images.permute(0, 3, 1, 2)
        for conv, norm, s in zip(self.convs, self.norms, self.strides):
            (top, bottom), (left, right) = same_padding(h.shape[2], s), same_padding(h.shape[3], s)
            h = F.relu(norm(conv(F.pad(h, (left, right, top, bottom)))))
        c = h.shape[1]
        feats = h.flatten(2).transpose(1, 2)  # [I, N, C], regions row by row
        per_image = feats @ self.vproj.weight[:, :c].T + (self.centres @ self.vproj.weight[:, c:].T + self.vproj.bias)
        if self.blind:
            per_image = per_image * 0
        regions = per_image[image_index]
        guide = q
        if self.guide:
            keys = words if self.guide["weights"] == "states" else embeddings
            offsets = None
            if self.guide["slope"] > 0:
                last = (mask.sum(1, keepdim=True) - 1).clamp_min(1)
                relative = torch.arange(t, dtype=torch.float32) / last - 0.5
                offsets = relative[:, :, None] * self.slope
            guide = pool(self.wordatt, keys, embeddings, offsets)[1]

        projected = self.region_mfb.x(per_image)[image_index]  # [B, N, k*o]
        width = guide.shape[1] // self.parts
        scores = []
        for part in range(self.parts):
            e = self.region_mfb.expand(projected, self.region_mfb.y(guide[:, part * width:(part + 1) * width])[:, None, :])
            z = self.region_mfb.sum_pool(e)
            if self.norm != "none":
                z = l2_normalize(signed_sqrt(z), (1, 2) if self.norm == "joint" else -1)
            scores.append(self.iatt(z))
        looked = torch.softmax(torch.cat(scores, 2).transpose(1, 2), -1)  # [B, G, N]
        obj = (looked @ regions).reshape(b, -1)

        image = [obj]
        if self.places:
            image.append(self.staged("places", (looked @ self.centres).reshape(b, -1) * self.places["scale"]))
        if self.rel:
            context = torch.cat([obj, q, guide] if self.rel["guideInContext"] else [obj, q], 1)
            g_n = F.relu(self.rel_out(F.relu(self.rel_region(regions) + self.rel_context(context)[:, None, :])))
            logits = self.rel_glimpses(g_n)  # [B, N, G]
            if self.rel["distanceScore"]:
                at = looked @ self.centres  # [B, G, 2]
                squared = ((self.centres[None, :, None, :] - at[:, None, :, :]) ** 2).sum(3)  # [B, N, G]
                logits = logits + self.rel_distance(q)[:, None, :] * squared
            rel_weights = torch.softmax(logits.transpose(1, 2), -1)
            summed = g_n.sum(1) / math.sqrt(regions.shape[1])
            if self.rel["sumNorm"] == "layer":
                summed = standardize(summed)
            image.append(self.staged("relational", torch.cat([summed, (rel_weights @ regions).reshape(b, -1)], 1)))
            if self.places:
                image.append(self.staged("places", (rel_weights @ self.centres).reshape(b, -1) * self.places["scale"]))
        if self.pair:
            a, c2 = obj[:, : self.d], obj[:, self.d: 2 * self.d]
            z = self.pair_mfb.sum_pool(self.pair_mfb.x(a) * self.pair_mfb.y(c2))
            image.append(self.staged("glimpse-pair", l2_normalize(z, -1) * self.pair["scale"]))
        return self.classifier(self.fusion(torch.cat(image, 1), q))

    def load_named(self, w):
        """Copies vqa's parameters (src/nn/params.ts names; Dense weights [in, out], conv kernels HWIO) into this net."""
        t = lambda name: torch.from_numpy(w[name])
        def dense(lin, name):
            lin.weight.data = t(f"{name}.w").T.contiguous()
            lin.bias.data = t(f"{name}.b")
        def mlp(seq, name):
            dense(seq[0], f"{name}.hidden")
            dense(seq[3], f"{name}.out")
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            conv.weight.data = t(f"vision.conv{i}.w").permute(3, 2, 0, 1).contiguous()
            norm.weight.data, norm.bias.data = t(f"vision.bn{i}.gamma"), t(f"vision.bn{i}.beta")
            norm.running_mean.data, norm.running_var.data = t(f"vision.bn{i}.running_mean"), t(f"vision.bn{i}.running_var")
        dense(self.vproj, "vision.project")
        self.emb.weight.data = t("language.embedding")
        self.pos.data = t("language.positions")
        for i, layer in enumerate(self.layers):
            for part in ("norm1", "norm2"):
                ln = getattr(layer, part)
                ln.weight.data, ln.bias.data = t(f"language.layer{i}.{part}.gamma"), t(f"language.layer{i}.{part}.beta")
            for part in ("qkv", "out", "ffn1", "ffn2"):
                dense(getattr(layer, part), f"language.layer{i}.{part}")
        self.lnorm.weight.data, self.lnorm.bias.data = t("language.norm.gamma"), t("language.norm.beta")
        mlp(self.qatt, "qatt")
        if self.guide:
            mlp(self.wordatt, "iatt.wordatt")
            if self.guide["slope"] > 0:
                self.slope.data = t("iatt.wordatt.slope")
        dense(self.region_mfb.x, "iatt.fusion.x")
        dense(self.region_mfb.y, "iatt.fusion.y")
        mlp(self.iatt, "iatt")
        if self.rel:
            for part in ("region", "context", "out", "glimpses"):
                dense(getattr(self, f"rel_{part}"), f"relational.{part}")
            if self.rel["distanceScore"]:
                dense(self.rel_distance, "relational.distanceScore")
        if self.pair:
            dense(self.pair_mfb.x, "pair.x")
            dense(self.pair_mfb.y, "pair.y")
        if "stages.on" in w:
            self.stages_on.data = t("stages.on")
        if isinstance(self.fusion, Mfh):
            for block in ("block1", "block2"):
                dense(getattr(self.fusion, block).x, f"fusion.{block}.x")
                dense(getattr(self.fusion, block).y, f"fusion.{block}.y")
        else:
            dense(self.fusion.x, "fusion.x")
            dense(self.fusion.y, "fusion.y")
        dense(self.classifier, "classifier")


def read_arrays(folder, base):
    """Named float32/int32 arrays from BASE.json ([{name, shape, dtype, offset}]) and BASE.bin."""
    import numpy as np
    raw = open(os.path.join(folder, f"{base}.bin"), "rb").read()
    out = {}
    for e in json.load(open(os.path.join(folder, f"{base}.json"))):
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        out[e["name"]] = np.frombuffer(raw, dtype=e["dtype"], count=count, offset=e["offset"]).reshape(e["shape"]).copy()
    return out


def parity(a, cfg):
    weights, batch = read_arrays(a.parity, "weights"), read_arrays(a.parity, "batch")
    net = Net(cfg, weights["language.embedding"].shape[0], weights["classifier.w"].shape[1])
    net.load_named(weights)
    net.eval()
    t = lambda name: torch.from_numpy(batch[name])
    with torch.no_grad():
        logits = net(t("images"), t("image_index").long(), t("tokens").long(), t("mask"))
    expected = t("logits")
    print(json.dumps({"max_abs_logit_diff": (logits - expected).abs().max().item(), "max_abs_logit": expected.abs().max().item(), "questions": int(expected.shape[0])}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--parity", help="a folder written by `npm run bench -- torch-parity`")
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
    if "attention" not in cfg:
        raise SystemExit(f"{a.config}: a config of the form before modules; vqa writes the current form (parseRunConfig)")
    if a.parity:
        return parity(a, cfg)
    dev = torch.device(a.device)
    net = Net(cfg, a.vocab, a.answers).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=7e-4, betas=(0.9, 0.99), eps=1e-9)
    s, t = cfg["imageSize"], cfg["language"]["maxTokens"]
    images = torch.randn(a.images, s, s, 3, device=dev)
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

        warm_up(lambda: net(*one))
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
