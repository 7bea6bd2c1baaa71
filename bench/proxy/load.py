"""Reads a `vqa data synth` folder (argument 1, default /tmp/soc) into the pickle soc.py trains from (<folder>/cache.pkl)."""
import json, re, sys, numpy as np
from PIL import Image
def tok(s): return re.findall(r"[a-z0-9]+", s.lower())
def load(root, split, vocab=None, answers=None, T=None):
    q = json.load(open(f"{root}/{split}/questions.json"))["questions"]
    a = {x["question_id"]: x for x in json.load(open(f"{root}/{split}/annotations.json"))["annotations"]}
    ids = sorted({x["image_id"] for x in q})
    idx = {i: k for k, i in enumerate(ids)}
    imgs = np.stack([np.asarray(Image.open(f"{root}/{split}/images/{i}.png").convert("RGB")) for i in ids])
    toks = [tok(x["question"]) for x in q]
    if vocab is None:
        vocab = {w: i + 1 for i, w in enumerate(sorted({w for t in toks for w in t}))}
        answers = {w: i for i, w in enumerate(sorted({a[x["question_id"]]["multiple_choice_answer"] for x in q}))}
    T = T or max(len(t) for t in toks)
    tk = np.zeros((len(q), T), np.int64)
    for r, t in enumerate(toks):
        ids_ = [vocab.get(w, 0) for w in t][:T]; tk[r, :len(ids_)] = ids_
    ans = np.array([answers[a[x["question_id"]]["multiple_choice_answer"]] for x in q])
    types = [a[x["question_id"]]["question_type"] for x in q]
    im = np.array([idx[x["image_id"]] for x in q])
    return dict(imgs=imgs, tokens=tk, ans=ans, types=np.array(types), im=im), vocab, answers, T
if __name__ == "__main__":
    import pickle
    root = sys.argv[1] if len(sys.argv) > 1 else "/tmp/soc"
    tr, v, a, T = load(root, "train"); va, _, _, _ = load(root, "val", v, a, T)
    pickle.dump((tr, va, v, a), open(f"{root}/cache.pkl", "wb"))
    print(len(v), a, tr["imgs"].shape, va["imgs"].shape, set(tr["types"]))
