"""Sort-of-CLEVR training proxy in PyTorch: the product's network with switches, for fast experiments.

Not part of the product or its tests (docs/experiments.md §6 lists the runs and their flags).
Reads the cache written by load.py from a `vqa data synth --kind sort-of-clevr` folder; trains on
one thread; every --every questions evaluates 6,000 val questions with the running batch-norm
statistics and with statistics re-estimated over 60 training batches ("precise"), and prints a
JSON line. Example (run m): --guide emb --norm none --sqrt 0 --ipb 32 --qpi 2
  --curr "shape,horizontal position,vertical position:64000"; run r-mlp-st-s2 adds
  --rel mlp --relstaged 1 --seed 2 with the curriculum at 112000.
"""
import argparse, json, math, pickle, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
ap = argparse.ArgumentParser()
ap.add_argument("--guide", default="q")          # q | emb | both | ctx (its own glimpses over the transformer's word states, not the raw embeddings) | kv (glimpse weights from the word states, pooling the raw embeddings)
ap.add_argument("--value", default="raw")        # raw | cond
ap.add_argument("--hops", type=int, default=1)
ap.add_argument("--norm", default="region")      # region | joint | none
ap.add_argument("--sqrt", type=int, default=1)
ap.add_argument("--scale", type=float, default=1.0)
ap.add_argument("--lr", type=float, default=1.5e-3)
ap.add_argument("--questions", type=int, default=200000)
ap.add_argument("--every", type=int, default=32000)
ap.add_argument("--types", default="")
ap.add_argument("--ipb", type=int, default=8)
ap.add_argument("--qpi", type=int, default=8)
ap.add_argument("--pool", default="attn")        # attn | attn+mean
ap.add_argument("--ch", type=int, default=32)
ap.add_argument("--bn", default="bn")  # bn | none | gn | batchstats
ap.add_argument("--fnorm", type=int, default=1)
ap.add_argument("--curr", default="")  # types:questions, e.g. shape:32000
ap.add_argument("--value2", default="")
ap.add_argument("--pool2", default="")
ap.add_argument("--posemb", type=int, default=0)
ap.add_argument("--embstd", type=float, default=1.0)
ap.add_argument("--coords", type=int, default=2)  # 2: x, y | 3: x, y, x²+y² (a bilinear score can then rank distances)
ap.add_argument("--rel", default="")  # "" | mlp: per region g(r_n, hop-1 object, q), pooled by sum and by attention
ap.add_argument("--relstaged", type=int, default=0)  # 1: the relational features are zero until the curriculum ends
ap.add_argument("--dist", type=int, default=0)  # 1: hops > 1 (and the relational module) see each region's squared distance to where hop 1 looked
ap.add_argument("--curr2", default="")  # a second phase after --curr, types:questions (its end), e.g. "closest shape,furthest shape:208000"
ap.add_argument("--dscore", type=int, default=0)  # 1: the relational attention's logits get s_g(q)·(squared distance to where hop 1 looked), s a linear map of q
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--name", default="run")
ap.add_argument("--data", default="/tmp/soc")  # a folder prepared by load.py
ap.add_argument("--strides", default="2,2,2")  # one 3×3 convolution per stride (2,2,1: 16×16 regions at 64 px; 1,2,2,2: four convolutions, 8×8)
ap.add_argument("--save", default="")  # PATH:N: the network, optimizer and questions seen, written once N questions are seen (e.g. the end of the first phase)
ap.add_argument("--load", default="")  # a file --save wrote: the run continues from there (same architecture flags)
ap.add_argument("--gsep", type=int, default=0)  # 1: hop 1's glimpse g scores the regions against guide glimpse g alone (one MFB and score MLP shared by the glimpses), so each glimpse attends with its own description
ap.add_argument("--relctx", default="")  # guide: the relational module's context also gets the attention's guide (the description words), not only hop 1's object and q
ap.add_argument("--posstd", type=float, default=0.02)  # initial std of the learned position embeddings (the token embeddings' is --embstd)
ap.add_argument("--probe", type=int, default=0)  # with --load: prints statistics of hop 1's attention on 500 val questions per type and exits
ap.add_argument("--relbil", type=int, default=0)  # K > 0: the relational module's hidden layer also gets MFB(r_n, context) (k = K, o = its width), so a region can be matched against the description and hop 1's object bilinearly
ap.add_argument("--oracle", default="")  # diagnosis only: last = the guide pools only the words after the question's last "the" (the last description); split = glimpse 1 the words between the first two "the"s, glimpse 2 those after the last
ap.add_argument("--reinit", default="")  # with --load: parameters whose names start with one of these (comma-separated) keep their fresh initial values, e.g. qatt.2 (the question attention's scores)
ap.add_argument("--cscale", type=float, default=1.0)  # the coordinate channels' scale (1: [-1, 1])
ap.add_argument("--diag", type=int, default=0)  # N > 0: every N steps print the spread of the yes − no logit over the batch and the fusion's gradient norms
ap.add_argument("--relsum", default="sqrtn")  # sqrtn: Σ_n g_n / √N (before) | ln: that sum layer-normalised (no affine), so its scale cannot swamp the fusion's other inputs
ap.add_argument("--qkv", type=int, default=0)  # 1: the question vector pools the raw word embeddings, its glimpse weights still from the word states (the guide's kv for q)
ap.add_argument("--ground", type=int, default=0)  # L > 0: every word grounds its own description in the image with hop 1's scorer (its guide pools the words its state attends, warm-started at the guide's weights), then L transformer layers over the words plus their grounded regions, pooled into the fusion (staged like the relational module)
ap.add_argument("--gpair", type=int, default=0)  # K > 0: the fusion also gets MFB(glimpse 1's object, glimpse 2's object) of hop 1 (k = K, o = 64), a product that can tell whether two objects share an attribute
ap.add_argument("--gbias", type=float, default=0)  # K > 0: the guide's glimpse g gets a learned slope s_g·(t/(len−1) − ½) on its word logits, s starting at (−K, …, +K): glimpse 1 starts by reading the question's first words, the last glimpse its last ones
ap.add_argument("--gpairsrc", default="hop")  # hop: --gpair multiplies hop 1's two glimpses | rel: hop 1's object (both glimpses) and the relational module's attended regions (both glimpses)
ap.add_argument("--gpairscale", type=float, default=1.0)  # the --gpair product's scale in the fusion's input (it is L2-normalised: 1 is drowned by the other inputs)
ap.add_argument("--glocal", type=float, default=0)  # λ: each word's guide logits also get −λ·|t − s|, so a word starts by pooling its own phrase (descriptions are contiguous)
ap.add_argument("--gposstd", type=float, default=0.5)  # the grounded layers' own position embeddings
ap.add_argument("--where", type=float, default=0)  # S > 0: the fusion also gets where each glimpse of hop 1 (and of the relational module) looked, its attention-weighted (x, y) times S
ap.add_argument("--byword", type=int, default=0)  # 1: val accuracy also per question type and its second word ("What color …")
a = ap.parse_args()
torch.set_num_threads(1); torch.manual_seed(a.seed); rng = np.random.default_rng(a.seed)
tr, va, vocab, answers = pickle.load(open(f"{a.data}/cache.pkl", "rb"))
for k in ("tokens", "ans", "types", "im"): va[k] = va[k][:6000]
if a.types:
    keep = set(a.types.split(","))
    for D in (tr, va):
        m = np.isin(D["types"], list(keep))
        for k in ("tokens", "ans", "types", "im"): D[k] = D[k][m]
STRIDES = [int(x) for x in a.strides.split(',')]
GRID = tr['imgs'].shape[1]
for st in STRIDES: GRID = -(-GRID // st)  # regions per side
def ssqrt(z): return torch.sqrt(F.relu(z) + 1e-12) - torch.sqrt(F.relu(-z) + 1e-12)
class Mfb(nn.Module):
    def __init__(s, xd, yd, k, o):
        super().__init__(); s.k, s.o = k, o; s.x = nn.Linear(xd, k*o); s.y = nn.Linear(yd, k*o)
    def forward(s, x, y, sqrt=True, norm=True):
        z = (s.x(x) * s.y(y)).reshape(*torch.broadcast_shapes(x.shape[:-1], y.shape[:-1]), s.o, s.k).sum(-1)
        if sqrt: z = ssqrt(z)
        return F.normalize(z, dim=-1) if norm else z
class Layer(nn.Module):
    def __init__(s, d, h):
        super().__init__(); s.h = h; s.n1, s.n2 = nn.LayerNorm(d), nn.LayerNorm(d); s.qkv, s.out = nn.Linear(d, 3*d), nn.Linear(d, d); s.f1, s.f2 = nn.Linear(d, 2*d), nn.Linear(2*d, d)
    def forward(s, x, m):
        b, t, d = x.shape; hd = d // s.h
        q, k, v = s.qkv(s.n1(x)).split(d, 2); sp = lambda z: z.reshape(b, t, s.h, hd).transpose(1, 2)
        w = torch.softmax((sp(q) @ sp(k).transpose(2, 3) / math.sqrt(hd)).masked_fill(m[:, None, None, :] == 0, -1e9), -1)
        x = x + s.out((w @ sp(v)).transpose(1, 2).reshape(b, t, d))
        return x + s.f2(F.relu(s.f1(s.n2(x))))
def mlp(i, h, o): return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, o))
class Net(nn.Module):
    def __init__(s, d=64, G=2):
        super().__init__()
        cs, c = [], 3
        for co, st in zip([a.ch] * len(STRIDES), STRIDES): cs += [nn.Conv2d(c, co, 3, st, 1, bias=a.bn == 'none'), {'bn': lambda: nn.BatchNorm2d(co), 'batchstats': lambda: nn.BatchNorm2d(co, track_running_stats=False), 'none': lambda: nn.Identity(), 'gn': lambda: nn.GroupNorm(4, co)}[a.bn](), nn.ReLU()]; c = co
        s.cnn = nn.Sequential(*cs); s.vproj = nn.Linear(c + a.coords, d)
        s.emb = nn.Embedding(len(vocab) + 1, d); nn.init.normal_(s.emb.weight, 0, a.embstd); s.pos = nn.Parameter(torch.randn(tr['tokens'].shape[1], d) * a.posstd)
        s.layers = nn.ModuleList([Layer(d, 4) for _ in range(2)]); s.ln = nn.LayerNorm(d)
        s.qatt = mlp(d, 64, G)
        gd = {"q": G*d, "emb": G*d, "ctx": G*d, "kv": G*d, "both": 2*G*d, "oracle": d}[a.guide]
        if a.guide in ("emb", "both", "ctx", "kv"): s.eatt = mlp(d, 64, G)
        if a.gbias: s.gb = nn.Parameter(torch.linspace(-a.gbias, a.gbias, G))
        s.hops = nn.ModuleList(); s.hatt = nn.ModuleList(); s.hval = nn.ModuleList()
        s.vkind = [a.value] + [a.value2 or a.value] * (a.hops - 1); s.pkind = [a.pool] + [a.pool2 or a.pool] * (a.hops - 1)
        vdims = [G * (d if vk == "raw" else 64) * (2 if pk != "attn" else 1) for vk, pk in zip(s.vkind, s.pkind)]
        for h in range(a.hops):
            sep = a.gsep and h == 0  # one guide glimpse (d wide) per attention glimpse, one score each
            s.hops.append(Mfb(d, gd // G if sep else gd + (vdims[h - 1] if h > 0 else 0), 5, 64)); s.hatt.append(mlp(64, 64, 1 if sep else G))
            s.hval.append(nn.Sequential(nn.Linear(64, 64), nn.ReLU()) if s.vkind[h] == "cond" else nn.Identity())
        vdim = sum(vdims)
        if a.rel:
            cd = vdims[0] + G * d + (gd if a.relctx == 'guide' else 0)  # hop-1 object and q (and the guide)
            s.rel_r, s.rel_c, s.rel_out = nn.Linear(d, 128), nn.Linear(cd, 128), nn.Linear(128, 64)
            if a.relbil: s.rel_b = Mfb(d, cd, a.relbil, 128)
            s.rel_on = not a.relstaged  # the training loop turns staged features on when the curriculum ends
            s.rel_att = nn.Linear(64, G); vdim += 64 + G * d
        if a.ground:
            s.gq, s.gk = nn.Linear(d, d), nn.Linear(d, d); nn.init.zeros_(s.gq.weight); nn.init.zeros_(s.gq.bias)  # the per-word term starts at 0: every word's guide is the guide
            s.gval, s.gxy = nn.Linear(d, d), nn.Linear(2, d); s.gpos = nn.Parameter(torch.randn(tr['tokens'].shape[1], d) * a.gposstd)
            s.glayers = nn.ModuleList([Layer(d, 4) for _ in range(a.ground)]); s.gln = nn.LayerNorm(d); s.gatt = mlp(d, 64, G); vdim += G * d
            s.ground_on = not a.relstaged
        if a.where: vdim += 2 * G * (2 if a.rel else 1)
        if a.gpair: s.gpair = Mfb(d, d, a.gpair, 64) if a.gpairsrc == 'hop' else Mfb(G * d, G * d, a.gpair, 64); vdim += 64
        if a.posemb: s.pe = nn.Parameter(torch.randn(GRID ** 2, d) * 0.1)
        s.fusion = Mfb(vdim, G*d, 5, 200); s.cls = nn.Linear(200, len(answers))
        if a.dist: s.dproj = nn.Linear(G, d)  # drawn last, so a run with --dist starts from the same weights as without
        if a.dscore: s.dscale = nn.Linear(G * d, G)
    def forward(s, imgs, im, tokens):
        m = (tokens > 0).float(); b = tokens.shape[0]
        e = s.emb(tokens); x = e + s.pos
        for L in s.layers: x = L(x, m)
        if a.diag: s.resid = [round(x.detach().norm(dim=-1)[m > 0].mean().item(), 2), round((x.detach() - x.detach().mean(0)).norm(dim=-1)[m > 0].mean().item(), 2), round(e.detach().norm(dim=-1)[m > 0].mean().item(), 2)]
        w = s.ln(x)
        pool = lambda att, src, val=None, mm=None, bias=0: (torch.softmax((att(src) + bias).transpose(1, 2).masked_fill((m[:, None, :] if mm is None else mm) == 0, -1e9), -1) @ (src if val is None else val)).reshape(b, -1)
        q = pool(s.qatt, w, e if a.qkv else None)
        gm = oracle_mask(tokens, m) if a.oracle else None
        guide = {"q": lambda: q, "emb": lambda: pool(s.eatt, e), "ctx": lambda: pool(s.eatt, w), "kv": lambda: pool(s.eatt, w, e, gm, s.slope(m) if a.gbias else 0), "both": lambda: torch.cat([q, pool(s.eatt, e)], 1), "oracle": lambda: (e * COLOUR[tokens][..., None]).sum(1)}[a.guide]()
        h = s.cnn(imgs); n, c, gh, gw = h.shape
        ys = torch.linspace(-1, 1, gh).view(1, 1, gh, 1).expand(n, 1, gh, gw); xs = torch.linspace(-1, 1, gw).view(1, 1, 1, gw).expand(n, 1, gh, gw)
        cc = [a.cscale * xs, a.cscale * ys] + ([(xs * xs + ys * ys) - 0.67] if a.coords == 3 else [])
        r = s.vproj(torch.cat([h] + cc, 1).flatten(2).transpose(1, 2))
        if a.posemb: r = r + s.pe
        r = r[im]  # [B,N,d]
        vs, g = [], guide; s.last_w = []
        for hi, (mfb, att) in enumerate(zip(s.hops, s.hatt)):
            if a.gsep and hi == 0:
                z = mfb(r[:, None], guide.reshape(b, s.qatt[-1].out_features, 1, -1), a.sqrt, a.norm == "region")  # [B, G, N, 64]
                wts = torch.softmax(a.scale * att(z).squeeze(-1), -1); s.last_w.append(wts)
            else:
                z = mfb(r, g[:, None, :], a.sqrt, a.norm == "region")
                if a.norm == "joint": z = z / z.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
                wts = torch.softmax(a.scale * att(z).transpose(1, 2), -1); s.last_w.append(wts)
            val = r if s.vkind[hi] == "raw" else s.hval[hi](z)
            v = (wts @ val).reshape(b, -1)
            if s.pkind[hi] in ("attn+mean", "attn+max"):
                extra = val.mean(1, keepdim=True) if s.pkind[hi] == "attn+mean" else val.max(1, keepdim=True)[0]
                v = torch.cat([v, extra.expand(-1, wts.shape[1], -1).reshape(b, -1)], 1)
            vs.append(v); g = torch.cat([guide, v], 1)
            if (a.dist or a.dscore) and hi == 0:
                cxy = torch.stack([xs[0, 0].flatten(), ys[0, 0].flatten()], 1)  # [N, 2], the order of r's regions
                p = wts @ cxy  # [B, G, 2]: where each glimpse of hop 1 looked
                dd = ((cxy[None, :, None, :] - p[:, None, :, :]) ** 2).sum(-1)  # [B, N, G]
                if a.dist: r = r + s.dproj(dd)
        if a.rel:
            ctx = torch.cat([vs[0], q] + ([guide] if a.relctx == 'guide' else []), 1)[:, None, :]
            pre = s.rel_r(r) + s.rel_c(ctx) + (s.rel_b(r, ctx, False, False) if a.relbil else 0)
            gn = F.relu(s.rel_out(F.relu(pre)))  # [B,N,64]
            if a.diag: s.relparts = [round(x.detach().norm(dim=-1).mean().item(), 3) for x in (r, s.rel_r(r), s.rel_c(ctx), gn)] + [round(x.detach().norm(dim=-1).mean().item(), 3) for x in (vs[0], q, guide)]
            logits = s.rel_att(gn) + (s.dscale(q)[:, None, :] * dd if a.dscore else 0)  # [B, N, G]
            rw = torch.softmax(logits.transpose(1, 2), -1); s.last_w.append(rw)
            on = float(s.rel_on)
            summed = gn.sum(1) / GRID
            if a.relsum == 'ln': summed = F.layer_norm(summed, summed.shape[-1:])
            vs += [on * summed, on * (rw @ r).reshape(b, -1)]
        if a.ground:
            gl = s.eatt(w)  # [B, T, G]: the guide's word logits per glimpse
            pair = s.gq(w) @ s.gk(w).transpose(1, 2) / math.sqrt(w.shape[-1])  # [B, T(word), T(the words it pools)]
            tt = torch.arange(tokens.shape[1]).float(); pair = pair - a.glocal * (tt[:, None] - tt[None, :]).abs()
            beta = torch.softmax((gl.permute(0, 2, 1)[:, :, None, :] + pair[:, None]).masked_fill(m[:, None, None, :] == 0, -1e9), -1)  # [B, G, T, T]
            gt = (beta @ e[:, None]).permute(0, 2, 1, 3).reshape(b, tokens.shape[1], -1)  # [B, T, G·d]: each word's guide
            zt = s.hops[0](r[:, None], gt[:, :, None, :], a.sqrt, a.norm == "region")  # [B, T, N, 64]
            alpha = torch.softmax(a.scale * s.hatt[0](zt)[..., 0], -1)  # [B, T, N]: glimpse 1's scores, the peaked one
            tok = w + s.gval(alpha @ r) + s.gxy(alpha @ cxy) + s.gpos  # cxy: every region's (x, y), where the word's region is
            for L in s.glayers: tok = L(tok, m)
            vs.append(float(s.ground_on) * pool(s.gatt, s.gln(tok)))
        if a.gpair and a.gpairsrc == 'hop': vs.append(a.gpairscale * float(s.rel_on) * s.gpair(vs[0][:, :r.shape[-1]], vs[0][:, r.shape[-1]:2 * r.shape[-1]], a.sqrt, True))  # staged like the relational module
        if a.gpair and a.gpairsrc == 'rel': vs.append(a.gpairscale * float(s.rel_on) * s.gpair(vs[0], (rw @ r).reshape(b, -1), a.sqrt, True))
        if a.where:
            vs.append(a.where * p.reshape(b, -1))
            if a.rel: vs.append(a.where * float(s.rel_on) * (rw @ cxy).reshape(b, -1))
        if a.diag: s.parts = [x.detach() for x in vs] + [q.detach()]
        return s.cls(s.fusion(torch.cat(vs, 1), q, bool(a.fnorm), bool(a.fnorm)))
def slope(s, m):  # [B, T, G]: s_g·(t/(len−1) − ½), the guide's position slope per glimpse
    rel = torch.arange(m.shape[1]).float()[None] / (m.sum(1, keepdim=True) - 1).clamp_min(1)
    return (rel - 0.5)[..., None] * s.gb
Net.slope = slope
def oracle_mask(tokens, m):
    t = tokens.shape[1]; pos = torch.arange(t)[None].expand_as(tokens); the = tokens == vocab['the']
    last = torch.where(the, pos, -1).max(1)[0][:, None]; first = torch.where(the, pos, t).min(1)[0][:, None]
    after_last = m * (pos > last).float(); has = (last >= 0).float()
    b_mask = has * after_last + (1 - has) * m  # no "the": every word
    if a.oracle == 'last': return torch.stack([b_mask, b_mask], 1)
    second = torch.where(the & (pos > first), pos, t).min(1)[0][:, None]
    a_mask = m * ((pos > first) & (pos < second)).float(); two = (second < last + 1).float() * (second < t).float()
    return torch.stack([two * a_mask + (1 - two) * b_mask, b_mask], 1)
COLOUR = torch.zeros(len(vocab) + 1)
WORD = {i: w for w, i in vocab.items()}; WORD[0] = ''
for w in (w for w in ('red', 'green', 'blue', 'orange', 'gray', 'yellow') if w in vocab): COLOUR[vocab[w]] = 1  # the oracle guide (Sort-of-CLEVR's colours)
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=a.lr)
def T(x): return torch.tensor(x)
def norm_imgs(x): return (T(x).float().permute(0, 3, 1, 2) / 255 - .5) / .25
bns = lambda: [m for m in net.modules() if isinstance(m, nn.BatchNorm2d) and m.track_running_stats]
def recalibrate(batches=60):
    # precise BN: running statistics re-estimated with the current weights, averaged over many batches
    saved = [(m.momentum, m.running_mean.clone(), m.running_var.clone()) for m in bns()]
    for m in bns(): m.reset_running_stats(); m.momentum = None
    with torch.no_grad():
        for _ in range(batches):
            sel = rng.choice(imgs_ids, 8, replace=False); net.cnn(norm_imgs(tr["imgs"][sel]))
    return saved
def restore(saved):
    for m, (mo, rm, rv) in zip(bns(), saved): m.momentum = mo; m.running_mean.copy_(rm); m.running_var.copy_(rv)
def evaluate_modes():
    out = {"run": evaluate()}
    saved = recalibrate(); out["precise"] = evaluate(); restore(saved)
    out["batch"] = out["precise"]
    return out
def evaluate(batch_mode=False):
    net.eval(); correct = {}; tot = {}
    if batch_mode:
        for m in bns(): m.train()
    with torch.no_grad():
        for i0 in range(0, len(va["ans"]), 500):
            sl = slice(i0, i0 + 500); ims = va["im"][sl]; u, inv = np.unique(ims, return_inverse=True)
            p = net(norm_imgs(va["imgs"][u]), T(inv), T(va["tokens"][sl])).argmax(1).numpy()
            for t, ok, tk in zip(va["types"][sl], p == va["ans"][sl], va["tokens"][sl]):
                for key in [t] + ([f"{t}/{WORD[tk[1]]}"] if a.byword else []): correct[key] = correct.get(key, 0) + ok; tot[key] = tot.get(key, 0) + 1
    net.train(); acc = {t: round(100 * correct[t] / tot[t], 1) for t in tot}
    types = [t for t in tot if "/" not in t]
    acc["all"] = round(100 * sum(correct[t] for t in types) / sum(tot[t] for t in types), 1); return acc
def index(rows):
    d = {}
    for r in rows: d.setdefault(tr["im"][r], []).append(r)
    return d
by_img_all = index(range(len(tr["im"])))
by_img_curr = index(np.nonzero(np.isin(tr["types"], a.curr.split(":")[0].split(",")))[0]) if a.curr else None
curr_until = int(a.curr.split(":")[1]) if a.curr else 0
by_img_curr2 = index(np.nonzero(np.isin(tr["types"], a.curr2.split(":")[0].split(",")))[0]) if a.curr2 else None
curr2_until = int(a.curr2.split(":")[1]) if a.curr2 else 0
by_img = by_img_curr or by_img_all
ids_of = {id(D): np.array(sorted(D)) for D in (by_img_all, by_img_curr, by_img_curr2) if D is not None}
imgs_ids = np.array(sorted(by_img)); seen = 0; t0 = time.time(); tr_ok = 0.5; nxt = a.every; log = []
if a.load:
    ck = torch.load(a.load); seen = ck['seen']; nxt = (seen // a.every + 1) * a.every
    # a parameter whose shape changed (a staged module given another input, untrained so far) keeps its new initial value and gets a fresh optimizer state
    # a parameter the checkpoint lacks (a module added by a flag) starts fresh too; optimizer states are matched by name
    own = net.state_dict(); changed = {k for k, v in ck['net'].items() if k not in own or own[k].shape != v.shape or any(k.startswith(p) for p in a.reinit.split(',') if p)}
    net.load_state_dict({k: v for k, v in ck['net'].items() if k not in changed}, strict=False)
    with torch.no_grad():  # a layer whose input grew (the fusion given a new input, appended last) keeps its old columns; the new ones start at 0
        for k in changed & set(ck['net']):
            old, cur = ck['net'][k], own[k]
            if old.dim() == 2 and cur.shape[0] == old.shape[0] and cur.shape[1] > old.shape[1]: cur[:, :old.shape[1]] = old; cur[:, old.shape[1]:] = 0
    names = [k for k, _ in net.named_parameters()]; saved_names = [k for k in names if k in ck['net']]; st = ck['opt']
    st['state'] = {names.index(saved_names[i]): v for i, v in st['state'].items() if saved_names[i] not in changed}
    st['param_groups'][0]['params'] = list(range(len(names))); opt.load_state_dict(st)
    changed |= {k for k in names if k not in ck['net']}
    for group in opt.param_groups: group['lr'] = a.lr  # the saved optimizer keeps its own lr otherwise
    print(json.dumps(dict(loaded=a.load, seen=seen, reinitialised=sorted(changed))), flush=True)
    if a.rel and seen >= curr_until: net.rel_on = True
    if a.ground and seen >= curr_until: net.ground_on = True
if a.probe:
    net.eval()
    with torch.no_grad():
        for t in sorted(set(va["types"])):
            sel = np.nonzero(va["types"] == t)[0][:500]; u, inv = np.unique(va["im"][sel], return_inverse=True)
            net(norm_imgs(va["imgs"][u]), T(inv), T(va["tokens"][sel])); w = net.last_w[0]  # [B, G, N]
            print(json.dumps({"type": t, "max weight per glimpse": w.max(-1)[0].mean(0).tolist(), "L1 between glimpses 1 and 2": (w[:, 0] - w[:, 1]).abs().sum(-1).mean().item(), "mass on the 4 top regions": w.sort(-1, descending=True)[0][..., :4].sum(-1).mean(0).tolist()}))
    if a.probe == 2:  # where hop 1's glimpses looked on 3,000 val questions of each two-object family, with their words and answers, for an offline fit
        dump = {}
        with torch.no_grad():
            for t in ("spatial relation", "compare attribute"):
                sel = np.nonzero(va["types"] == t)[0][:3000]; u, inv = np.unique(va["im"][sel], return_inverse=True)
                net(norm_imgs(va["imgs"][u]), T(inv), T(va["tokens"][sel])); w = net.last_w[0]
                cxy = torch.stack([torch.linspace(-1, 1, GRID).repeat(GRID), torch.linspace(-1, 1, GRID).repeat_interleave(GRID)], 1)
                dump[t] = dict(p=(w @ cxy).numpy(), tokens=va["tokens"][sel], ans=va["ans"][sel])
        pickle.dump(dict(dump=dump, vocab=vocab, answers=answers), open(f"{a.name}.probe.pkl", "wb"))
    raise SystemExit
save_path, save_at = (a.save.split(':')[0], int(a.save.split(':')[1])) if a.save else ('', 0)
while seen < a.questions:
    by_img = by_img_curr if seen < curr_until else by_img_curr2 if seen < curr2_until else by_img_all
    sel = rng.choice(ids_of[id(by_img)], a.ipb, replace=False); rows = np.concatenate([rng.choice(by_img[i], min(a.qpi, len(by_img[i])), replace=False) for i in sel])
    u, inv = np.unique(tr["im"][rows], return_inverse=True)
    out = net(norm_imgs(tr["imgs"][u]), T(inv), T(tr["tokens"][rows])); loss = F.cross_entropy(out, T(tr["ans"][rows]))
    tr_ok = tr_ok * 0.98 + 0.02 * (out.argmax(1).numpy() == tr["ans"][rows]).mean()
    opt.zero_grad(); loss.backward()
    if a.diag and (seen // len(rows)) % a.diag == 0:
        gap = (out[:, answers['yes']] - out[:, answers['no']]).detach()
        with torch.no_grad():
            zz = s_fused = net.fusion(torch.cat(net.parts[:-1], 1), net.parts[-1], False, False)
            spread = lambda x: [round(x.norm(dim=1).mean().item(), 3), round((x - x.mean(0)).norm(dim=1).mean().item(), 3)]  # mean norm, mean distance from the batch mean
        print(json.dumps(dict(parts=[spread(x) for x in net.parts], fusion_pre=spread(zz), rel=getattr(net, 'relparts', None), resid=net.resid)))
        print(json.dumps(dict(seen=seen, loss=round(loss.item(), 4), gap_mean=round(gap.mean().item(), 3), gap_std=round(gap.std().item(), 4), grads={n: round(p.grad.norm().item(), 5) for n, p in net.named_parameters() if p.grad is not None and n.split('.')[0] in ('fusion', 'cls', 'qatt', 'vproj', 'rel_c')})), flush=True)
    nn.utils.clip_grad_norm_(net.parameters(), 10); opt.step(); seen += len(rows)
    if a.rel and seen >= curr_until: net.rel_on = True
    if a.ground and seen >= curr_until: net.ground_on = True
    if save_path and seen >= save_at: torch.save(dict(net=net.state_dict(), opt=opt.state_dict(), seen=seen), save_path); save_path = ''
    if seen >= nxt:
        nxt += a.every; accs = evaluate_modes(); acc = accs['run']; el = time.time() - t0
        log.append(dict(seen=seen, s=round(el), train=round(100 * tr_ok, 1), batch=accs['batch']['all'], precise=accs['precise']['all'], precise_types=accs['precise'], **acc)); print(json.dumps(log[-1]), flush=True)
json.dump(dict(args=vars(a), log=log), open(f"{a.name}.json", "w"))
