"""Issue 7 experiment, step 3: a prototype student that sees word order (ARCH = bilstm: a 1-layer
BiLSTM, 128 wide, max+mean pooled; cnn: convolutions of width 1, 2, 3, 5, max pooled) over word
embeddings (words seen twice or more), trained like the bag student (soft cross-entropy on the
minilm T=2 probabilities, 3 epochs, Adam 1e-3) and scored on test.tsv after each epoch, then
timed on single texts (eager torch, one thread). A prototype: not part of the library, no export.
Usage: .venv/bin/python benchmarks/experiments/word_order_student.py ARCH SEED runs/wo/soft_sst2_train
runs/wo/soft_augmented runs/wo/soft_transfer"""

import collections
import json
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import torch
import torch.nn as nn

from bert2dnn_ray.softlabels import files as soft_label_files
from bert2dnn_ray.text import normalize, tokenize

arch, seed, dirs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
col = "minilm_probs_t2"
torch.manual_seed(seed)
np.random.seed(seed)
torch.set_num_threads(2)
texts, targets = [], []
for d in dirs:
    for f in soft_label_files(d):
        t = pq.read_table(f, columns=["text", col])
        texts += t["text"].to_pylist()
        targets.append(np.stack(t[col].to_numpy(zero_copy_only=False)))
Y = np.concatenate(targets).astype(np.float32)
toks = [tokenize(normalize(x))[:80] or ["<empty>"] for x in texts]
cnt = collections.Counter(w for ws in toks for w in ws)
vocab = {w: i + 2 for i, (w, c) in enumerate(cnt.most_common(200_000)) if c >= 2}


def enc(ws):
    return [vocab.get(w, 1) for w in ws]


X = [enc(ws) for ws in toks]
print(f"{len(X):,} rows, vocab {len(vocab):,}", flush=True)


def labeled(path):
    t = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(column_types={"sentence": pa.string()}),
    )
    xs = [enc(tokenize(normalize(s))[:80] or ["<empty>"]) for s in t["sentence"].to_pylist()]
    return xs, np.asarray(t["label"].to_pylist())


Xt, yt = labeled("data/sst2/test.tsv")
Xd, yd = labeled("data/sst2/dev.tsv")
E, H = 128, 128


class BiLSTM(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(len(vocab) + 2, E, padding_idx=0)
        s.rnn = nn.LSTM(E, H, batch_first=True, bidirectional=True)
        s.out = nn.Sequential(nn.Linear(4 * H, 256), nn.ReLU(), nn.Linear(256, Y.shape[1]))

    def forward(s, x, lens):
        e = s.emb(x)
        p = nn.utils.rnn.pack_padded_sequence(e, lens, batch_first=True, enforce_sorted=False)
        o, _ = s.rnn(p)
        o, _ = nn.utils.rnn.pad_packed_sequence(o, batch_first=True, total_length=x.shape[1])
        mask = (x != 0)[..., None]
        mx = o.masked_fill(~mask, -1e4).max(1).values
        mean = (o * mask).sum(1) / mask.sum(1)
        return s.out(torch.cat([mx, mean], -1))


class CNN(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(len(vocab) + 2, E, padding_idx=0)
        s.convs = nn.ModuleList([nn.Conv1d(E, 128, k, padding=k // 2) for k in (1, 2, 3, 5)])
        s.out = nn.Sequential(nn.Linear(4 * 128, 256), nn.ReLU(), nn.Linear(256, Y.shape[1]))

    def forward(s, x, lens):
        e = s.emb(x).transpose(1, 2)
        mask = (x != 0)[:, None, :]
        hs = [torch.relu(c(e))[..., : x.shape[1]].masked_fill(~mask, -1e4).max(-1).values for c in s.convs]
        return s.out(torch.cat(hs, -1))


model = {"bilstm": BiLSTM, "cnn": CNN}[arch]()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)


def batches(Xs, bs, shuffle):
    order = np.argsort([len(x) for x in Xs], kind="stable")
    chunks = [order[i : i + bs] for i in range(0, len(order), bs)]
    if shuffle:
        np.random.shuffle(chunks)
    for idx in chunks:
        lens = torch.tensor([len(Xs[i]) for i in idx])
        L = int(lens.max())
        xb = torch.zeros(len(idx), L, dtype=torch.long)
        for j, i in enumerate(idx):
            xb[j, : len(Xs[i])] = torch.tensor(Xs[i])
        yield idx, xb, lens


def score(Xs, ys):
    model.eval()
    P = np.zeros((len(Xs), Y.shape[1]), np.float32)
    with torch.no_grad():
        for idx, xb, lens in batches(Xs, 512, False):
            P[idx] = torch.softmax(model(xb, lens), -1).numpy()
    model.train()
    return float((P.argmax(1) == ys).mean())


Yt = torch.from_numpy(Y)
for ep in range(int(__import__("os").environ.get("EPOCHS", 3))):
    t0 = time.time()
    tot = n = 0
    for idx, xb, lens in batches(X, 128, True):
        logp = torch.log_softmax(model(xb, lens), -1)
        loss = -(Yt[idx] * logp).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(idx)
        n += len(idx)
    print(
        json.dumps(
            {
                "arch": arch,
                "seed": seed,
                "epoch": ep + 1,
                "loss": round(tot / n, 4),
                "dev": round(score(Xd, yd), 4),
                "test": round(score(Xt, yt), 4),
                "s": round(time.time() - t0),
            }
        ),
        flush=True,
    )
# single-text latency (1 thread)
torch.set_num_threads(1)
model.eval()
ts = []
with torch.no_grad():
    for x in Xt[:200]:
        xb = torch.tensor([x])
        t0 = time.perf_counter()
        model(xb, torch.tensor([len(x)]))
        ts.append(time.perf_counter() - t0)
print(json.dumps({"arch": arch, "p50_us": round(np.median(ts) * 1e6)}))
