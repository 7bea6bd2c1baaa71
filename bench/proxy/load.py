"""Reads a `vqa data synth --kind sort-of-clevr` folder (default /tmp/soc) into the pickle soc.py trains from."""
import json, re, numpy as np
from PIL import Image
def tok(s): return re.findall(r"[a-z0-9]+", s.lower())
def load(root, split, vocab=None, answers=None):
    q = json.load(open(f"{root}/{split}/questions.json"))["questions"]
    a = {x["question_id"]: x for x in json.load(open(f"{root}/{split}/annotations.json"))["annotations"]}
    ids = sorted({x["image_id"] for x in q})
    idx = {i: k for k, i in enumerate(ids)}
    imgs = np.stack([np.asarray(Image.open(f"{root}/{split}/images/{i}.png").convert("RGB")) for i in ids])
    toks = [tok(x["question"]) for x in q]
    if vocab is None:
        vocab = {w: i + 1 for i, w in enumerate(sorted({w for t in toks for w in t}))}
        answers = {w: i for i, w in enumerate(sorted({a[x["question_id"]]["multiple_choice_answer"] for x in q}))}
    T = 14
    tk = np.zeros((len(q), T), np.int64)
    for r, t in enumerate(toks):
        ids_ = [vocab.get(w, 0) for w in t][:T]; tk[r, :len(ids_)] = ids_
    ans = np.array([answers[a[x["question_id"]]["multiple_choice_answer"]] for x in q])
    types = [a[x["question_id"]]["question_type"] for x in q]
    im = np.array([idx[x["image_id"]] for x in q])
    return dict(imgs=imgs, tokens=tk, ans=ans, types=np.array(types), im=im), vocab, answers
if __name__ == "__main__":
    import pickle
    tr, v, a = load("/tmp/soc", "train"); va, _, _ = load("/tmp/soc", "val", v, a)
    pickle.dump((tr, va, v, a), open("/tmp/soc/cache.pkl", "wb"))
    print(len(v), a, tr["imgs"].shape, va["imgs"].shape, set(tr["types"]))
