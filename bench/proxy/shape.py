"""Shape-question proxy in PyTorch: the vqa net's image side (conv trunk, coordinate channels,
colour-guided MFB attention, MFB fusion) on Sort-of-CLEVR's "What is the shape of the <colour>
object?" questions alone, to find what lets the trunk learn shape on randomised scenes.

Not part of the product or its tests (docs/experiments.md §15 lists the runs). Usage:
  /usr/bin/python3 bench/proxy/shape.py "run('DATA', [32,32,32], [2,2,2], epochs=30, lr=5e-4, median=True)"
where DATA is a `vqa data synth --kind sort-of-clevr` folder (or one of scripts/style-ablation-sets.ts);
median=True adds the image minus its median colour, median='border' minus its border's mean colour,
median='whiten' the background (pixels near the border's mean colour) made white.
"""
import json, sys, time, re, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image
torch.set_num_threads(2)
COLOURS = ['red', 'green', 'blue', 'orange', 'gray', 'yellow']
def load(root, split, types=('shape',)):
    q = json.load(open(f'{root}/{split}/questions.json'))['questions']
    a = {x['question_id']: x for x in json.load(open(f'{root}/{split}/annotations.json'))['annotations']}
    ids, cols, ans = [], [], []
    for x in q:
        an = a[x['question_id']]
        if an['question_type'] not in types: continue
        c = next(i for i, c in enumerate(COLOURS) if c in x['question'])
        ids.append(x['image_id']); cols.append(c); ans.append(an['multiple_choice_answer'])
    uniq = sorted(set(ids)); index = {i: k for k, i in enumerate(uniq)}
    imgs = np.stack([np.asarray(Image.open(f'{root}/{split}/images/{i}.png').convert('RGB')) for i in uniq])
    labels = sorted(set(ans))
    return torch.tensor(imgs).permute(0, 3, 1, 2).float() / 255 - 0.5, torch.tensor([index[i] for i in ids]), torch.tensor(cols), ans
class Net(nn.Module):
    def __init__(s, widths, strides, d=64, bn=True, k=5, o=64, pool=False, median=False):
        super().__init__()
        s.median = median
        layers, c = [], 6 if median and median != 'whiten' else 3
        for w, st in zip(widths, strides):
            layers += [nn.Conv2d(c, w, 3, 1 if pool else st, 1), nn.BatchNorm2d(w) if bn else nn.Identity(), nn.ReLU()] + ([nn.MaxPool2d(st, ceil_mode=True)] if pool and st > 1 else []); c = w
        s.trunk = nn.Sequential(*layers); s.proj = nn.Linear(c + 2, d); s.emb = nn.Embedding(6, d)
        s.k, s.o = k, o
        s.ar = nn.Linear(d, k * o); s.ag = nn.Linear(d, k * o); s.score = nn.Sequential(nn.Linear(o, 64), nn.ReLU(), nn.Linear(64, 2))
        s.fr = nn.Linear(2 * d, 5 * 200); s.fg = nn.Linear(d, 5 * 200); s.out = nn.Linear(200, 2)
    def forward(s, x, col):
        if s.median == 'whiten':
            border = torch.cat([x[:, :, 0, :], x[:, :, -1, :], x[:, :, :, 0], x[:, :, :, -1]], 2).mean(2)
            diff = (x - border[:, :, None, None]).abs().amax(1, keepdim=True)
            m = ((diff - 16 / 255) / (16 / 255)).clamp(0, 1)
            x = m * x + (1 - m) * 0.5
        elif s.median == 'border':
            border = torch.cat([x[:, :, 0, :], x[:, :, -1, :], x[:, :, :, 0], x[:, :, :, -1]], 2).mean(2)
            x = torch.cat([x, x - border[:, :, None, None]], 1)
        elif s.median: x = torch.cat([x, x - x.flatten(2).median(2).values[:, :, None, None]], 1)
        f = s.trunk(x); B, C, H, W = f.shape
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing='ij')
        f = torch.cat([f.flatten(2).transpose(1, 2), xs.flatten()[None, :, None].expand(B, -1, 1), ys.flatten()[None, :, None].expand(B, -1, 1)], 2)
        r = s.proj(f); g = s.emb(col)
        z = (s.ar(r) * s.ag(g)[:, None]).view(B, H * W, s.o, s.k).sum(3)
        att = torch.softmax(s.score(z), 1)  # [B, N, 2]
        v = torch.einsum('bng,bnd->bgd', att, r).flatten(1)
        z = (s.fr(v) * s.fg(g)).view(B, 200, 5).sum(2)
        z = torch.sign(z) * torch.sqrt(z.abs() + 1e-8); z = F.normalize(z, dim=1)
        return s.out(z)
def run(root, widths, strides, epochs=6, bn=True, lr=1.5e-3, label='', pool=False, threads=2, median=False, clip=None, seed=1):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    X, I, Cq, A = load(root, 'train'); Xv, Iv, Cv, Av = load(root, 'val')
    y = torch.tensor([a == 'square' for a in A]).long(); yv = torch.tensor([a == 'square' for a in Av]).long()
    net = Net(widths, strides, bn=bn, pool=pool, median=median); opt = torch.optim.Adam(net.parameters(), lr, betas=(0.9, 0.99))
    n = len(y); t0 = time.time(); curve = []
    for ep in range(epochs):
        net.train(); perm = torch.randperm(n); norms = []
        for b in range(0, n, 64):
            j = perm[b:b + 64]; loss = F.cross_entropy(net(X[I[j]], Cq[j]), y[j])
            opt.zero_grad(); loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(net.parameters(), clip if clip else float('inf'))))
            opt.step()
        net.eval()
        with torch.no_grad(): acc = (net(Xv[Iv], Cv).argmax(1) == yv).float().mean().item() * 100
        curve.append(round(acc, 1))
        print(f'  {label} epoch {ep + 1}: val {acc:.1f}, gradient norm median {np.median(norms):.2f} max {max(norms):.1f} ({time.time() - t0:.0f}s)', flush=True)
    print(f'{label} {root.split("/")[-1]} widths={widths} strides={strides} bn={bn} pool={pool} median={median} clip={clip} seed={seed} lr={lr} n={n} val per epoch {curve} ({time.time() - t0:.0f}s)', flush=True)
if __name__ == '__main__':
    exec(sys.argv[1])
