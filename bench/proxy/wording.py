"""Wording proxy (issue 30, goal 2): how well does a question encoder read wordings it never saw?

The question's meaning in Sort-of-CLEVR is its type and its colour (36 classes). A small
transformer like the product's (d 64, 2 layers, 4 heads, mean pool) learns that parse from the
training wordings of a generated set and is scored on its `val` (trained wordings) and
`val-reworded` (held-out wordings) splits. Variants differ only in how a word becomes a vector:

  learned   a trained embedding; a word training never saw is [UNK] (or, with --unseen letters, its
            letters as the product's WordPiece vocabulary spells it: pieces training never saw)
  frozen    the shipped GloVe 6B 100-d row through a trained projection (unseen words keep theirs)
  delta     frozen GloVe projection + a trained per-word offset that is dropped (zeroed) for a
            random fraction of tokens in training and is zero for unseen words, so the encoder must
            also read words through GloVe alone

Usage: /usr/bin/python3 bench/proxy/wording.py DATA VARIANT [--drop 0.5] [--epochs 4] [--seed 1]
"""
import argparse, json, re, time
import numpy as np, torch, torch.nn as nn

COLOURS = {'red': 0, 'green': 1, 'blue': 2, 'orange': 3, 'gray': 4, 'grey': 4, 'yellow': 5}

def words(q): return re.findall(r"[a-z]+", q.lower())

def load(data, split):
    qs = json.load(open(f'{data}/{split}/questions.json'))['questions']
    an = {a['question_id']: a['question_type'] for a in json.load(open(f'{data}/{split}/annotations.json'))['annotations']}
    out = []
    for q in qs:
        w = words(q['question'])
        colour = [COLOURS[x] for x in w if x in COLOURS]
        assert len(colour) == 1, q
        out.append((w, an[q['question_id']], colour[0]))
    return out

def glove():
    meta = json.load(open('data/word-vectors/glove-6b-100d.json'))
    v = np.fromfile('data/word-vectors/glove-6b-100d.bin', dtype=np.float16).astype(np.float32).reshape(len(meta['words']), meta['width'])
    return {w: i for i, w in enumerate(meta['words'])}, v

class Encoder(nn.Module):
    def __init__(self, variant, table, trained, n_classes, drop, d=64):
        super().__init__()
        self.variant, self.drop, self.trained = variant, drop, trained  # ids below `trained`: pad, unk, training's words
        if variant == 'learned':
            self.emb = nn.Embedding(len(table), d)
            nn.init.normal_(self.emb.weight, std=1.0)
        else:
            self.register_buffer('g', torch.tensor(table))
            self.proj = nn.Linear(table.shape[1], d)
            if variant == 'delta':
                self.delta = nn.Embedding(len(table), d)
                nn.init.zeros_(self.delta.weight)
        self.pos = nn.Parameter(torch.randn(40, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, 4, 2 * d, dropout=0.0, batch_first=True)
        self.tf = nn.TransformerEncoder(layer, 2)
        self.out = nn.Linear(d, n_classes)

    def forward(self, ids, mask):
        if self.variant == 'learned':
            x = self.emb(ids)
        else:
            x = self.proj(self.g[ids])
            if self.variant == 'delta':
                keep = (ids < self.trained).float().unsqueeze(-1)  # unseen words have no offset
                if self.training: keep = keep * (torch.rand_like(keep) >= self.drop).float()
                x = x + keep * self.delta(ids)
        x = x + self.pos[: ids.shape[1]]
        h = self.tf(x, src_key_padding_mask=~mask)
        m = mask.float().unsqueeze(-1)
        return self.out((h * m).sum(1) / m.sum(1))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('data'); ap.add_argument('variant', choices=['learned', 'frozen', 'delta'])
    ap.add_argument('--drop', type=float, default=0.5); ap.add_argument('--epochs', type=int, default=4)
    ap.add_argument('--train', type=int, default=60000); ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--unseen', choices=['unk', 'letters'], default='unk')
    ap.add_argument('--word-dropout', type=float, default=0.0, help='training tokens read as [UNK] with this probability')
    a = ap.parse_args()
    torch.manual_seed(a.seed); torch.set_num_threads(1)
    train, val, rew = load(a.data, 'train')[: a.train], load(a.data, 'val'), load(a.data, 'val-reworded')
    types = sorted({t for _, t, _ in train}); tix = {t: i for i, t in enumerate(types)}
    trained = sorted({w for ws, _, _ in train for w in ws})
    index, table = glove()
    # ids: 0 pad, 1 unk, trained words, then (GloVe variants) every other table word
    vocab = ['<pad>', '<unk>'] + trained
    letters = sorted({c for w in trained for c in w})
    if a.unseen == 'letters': vocab += [f'#{c}' for c in letters] + [f'##{c}' for c in letters]
    if a.variant != 'learned': vocab += [w for w in index if w not in set(trained)]
    wid = {w: i for i, w in enumerate(vocab)}
    rows = np.zeros((len(vocab), table.shape[1]), np.float32)
    for w, i in wid.items():
        if w in index: rows[i] = table[index[w]]
    model = Encoder(a.variant, rows, len(trained) + 2, len(types) * 6, a.drop)

    def piece_ids(w):
        if w in wid: return [wid[w]]
        if a.unseen == 'unk': return [1]
        return [wid.get(('#' if i == 0 else '##') + c, 1) for i, c in enumerate(w)]

    def tensors(rows_):
        seqs = [[i for w in ws for i in piece_ids(w)][:40] for ws, _, _ in rows_]
        ids = torch.zeros(len(rows_), max(map(len, seqs)), dtype=torch.long)
        for r, s in enumerate(seqs): ids[r, : len(s)] = torch.tensor(s)
        y = torch.tensor([tix[t] * 6 + c for _, t, c in rows_])
        return ids, ids > 0, y

    def score(rows_):
        model.eval(); ids, mask, y = tensors(rows_)
        with torch.no_grad(): p = model(ids, mask).argmax(1)
        model.train()
        ok = (p == y).numpy(); per = {}
        for (ws, t, _), o in zip(rows_, ok): per.setdefault(t, []).append(o)
        unseen = np.mean([any(w not in wid or wid[w] >= model.trained for w in ws) for ws, _, _ in rows_])
        return 100 * ok.mean(), {t: round(100 * float(np.mean(v)), 1) for t, v in per.items()}, 100 * unseen

    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    ids, mask, y = tensors(train)
    t0 = time.time()
    for epoch in range(a.epochs):
        perm = torch.randperm(len(train))
        for s in range(0, len(train), 64):
            b = perm[s : s + 64]
            x = ids[b]
            if a.word_dropout > 0: x = torch.where((torch.rand(x.shape) < a.word_dropout) & (x > 1), torch.ones_like(x), x)
            loss = nn.functional.cross_entropy(model(x, mask[b]), y[b])
            opt.zero_grad(); loss.backward(); opt.step()
        v, _, _ = score(val); r, per, unseen = score(rew)
        print(f'{a.variant} unseen {a.unseen} word-dropout {a.word_dropout} drop {a.drop} seed {a.seed} epoch {epoch + 1}: val {v:.1f} reworded {r:.1f} ({unseen:.0f}% with an unseen word) {per} · {time.time() - t0:.0f}s', flush=True)

main()
