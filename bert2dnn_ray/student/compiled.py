"""The compiled one-text path of a bag student: word n-gram ids, bag, dense layers and softmax in one
machine-code call (numba), the default behind ``Student.predict_one``.

Python does what it is quick at: splitting the text and one dict lookup per whitespace-free chunk
for the 64-bit keys of its tokens (per token where the text needs normalising first;
:meth:`Featurizer.token_keys` computes them). One call to :func:`_forward` then does the rest: the
word n-gram ids exactly as :meth:`Featurizer.ids` computes them (same polynomial hash mod 2^64,
same fmix64, same order, same ``max_features`` cut, the ``<empty>`` id when there is nothing
else), the pooled bag of table rows, the dense layers with ReLU, the head and the softmax. Per
text that is one Python-to-native dispatch instead of a dozen NumPy calls.

It covers the bag students whose featurizer has word n-grams only and no pair (the library's
default shape); anything else (character n-grams, text pairs, cnn / bilstm encoders) keeps the
NumPy / PyTorch paths of :mod:`.serve`, as does a machine without numba. The table is the one
:class:`~.serve._NumpyForward` builds (the first dense layer folded in where it is no wider than
the embedding). Tests hold the ids to :meth:`Featurizer.ids` and the probabilities to PyTorch.
"""

from __future__ import annotations

import sys

import numpy as np

from ..featurizer import _C1, _C2, _P  # the featurizer's hash constants: the same ids
from ..tokens import tokens

try:  # an optional accelerator: without it, predict_one runs in NumPy
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; this is the fallback
    numba = None

# consts layout (uint64): [nb, max_features, boundary, pooling, empty_id, bos, eos, n_layers,
#                          first_bias (0/1), head_folded (0/1), n_wns, wns..., wbase_p[1..5], dims...]
_POOLING = {"sqrtn": 0, "mean": 1, "sum": 2}


def supports(featurizer, model) -> bool:
    """Whether this student's one-text path can be compiled (see the module docstring)."""
    cfg = featurizer.config
    return numba is not None and not model.reads_in_order and not cfg.char_ngrams and bool(cfg.word_ngrams)


def _fmix(x):
    x ^= x >> np.uint64(33)
    x *= np.uint64(_C1)
    x ^= x >> np.uint64(33)
    x *= np.uint64(_C2)
    x ^= x >> np.uint64(33)
    return x


def _ids(keys, c):
    """Word n-gram ids of one text from its token keys (``Featurizer._ns_features`` for words)."""
    nb = c[0]
    m = np.int64(c[1])
    boundary = c[2] != 0
    n_wns = np.int64(c[10])
    wns = c[11 : 11 + n_wns]
    wbase = c[11 + n_wns : 16 + n_wns]  # wbase_p[n] at index n - 1
    n_tok = keys.shape[0]
    first = 1 if boundary else 0
    seq_len = n_tok + 2 if boundary else n_tok
    seq = np.empty(seq_len, dtype=np.uint64)
    if boundary:
        seq[0] = c[5]
        seq[seq_len - 1] = c[6]
    for i in range(n_tok):
        seq[first + i] = keys[i]
    end_real = first + n_tok
    out = np.empty(max(m, 1), dtype=np.int64)
    k = 0
    for g in range(first, seq_len):
        for j in range(n_wns):
            n = np.int64(wns[j])
            if n == 1:
                if g < end_real and k < m:
                    out[k] = np.int64(_fmix(wbase[0] + seq[g]) % nb)
                    k += 1
                continue
            if g < n - 1:
                continue
            h = wbase[n - 1] + seq[g - n + 1]
            for q in range(g - n + 2, g + 1):
                h = h * np.uint64(_P) + seq[q]
            if k < m:
                out[k] = np.int64(_fmix(h) % nb)
                k += 1
    if k == 0:
        out[0] = np.int64(c[4])
        k = 1
    return out[:k]


def _forward(keys, c, table, params):
    """Probabilities [K] of one text from its token keys; ``params``: the dense weights ([out, in]
    rows, layer by layer), then the biases (of the folded layer first, if any)."""
    ids = _ids(keys, c)
    width = table.shape[1]
    x = np.zeros(width, dtype=np.float32)
    for i in range(ids.shape[0]):
        row = ids[i]
        for j in range(width):
            x[j] += table[row, j]
    n = ids.shape[0]
    pooling = c[3]
    if pooling == 0:
        x /= np.float32(np.sqrt(n))
    elif pooling == 1:
        x /= np.float32(n)
    n_wns = np.int64(c[10])
    dims = c[16 + n_wns :]
    n_layers = np.int64(c[7])
    n_weights = 0
    for layer in range(n_layers):
        n_weights += np.int64(dims[layer]) * np.int64(dims[layer + 1])
    weights = params[:n_weights]
    biases = params[n_weights:]
    boff = 0
    if c[8] != 0:  # the first dense layer is folded into the table: add its bias
        for j in range(width):
            x[j] += biases[j]
        boff = width
        if c[9] == 0:
            for j in range(width):
                x[j] = max(x[j], np.float32(0.0))
    woff = 0
    for layer in range(n_layers):
        n_in = np.int64(dims[layer])
        n_out = np.int64(dims[layer + 1])
        w = weights[woff : woff + n_in * n_out].reshape((n_out, n_in))
        y = np.dot(w, x)  # BLAS (sgemv)
        for o in range(n_out):
            v = y[o] + biases[boff + o]
            y[o] = v if layer == n_layers - 1 or v > 0 else np.float32(0.0)
        woff += n_in * n_out
        boff += n_out
        x = y
    top = x.max()
    s = np.float32(0.0)
    for j in range(x.shape[0]):
        x[j] = np.exp(x[j] - top)
        s += x[j]
    for j in range(x.shape[0]):
        x[j] /= s
    return x


if numba is not None:
    _fmix = numba.njit(cache=True, nogil=True, inline="always")(_fmix)
    _ids = numba.njit(cache=True, nogil=True)(_ids)
    _forward = numba.njit(cache=True, nogil=True, fastmath=True)(_forward)


class CompiledForward:
    """``predict_one`` of a bag student in one compiled call (build it with :func:`supports` true)."""

    def __init__(self, featurizer, fast) -> None:
        """``fast``: the student's :class:`~.serve._NumpyForward` (its table and dense weights)."""
        plan = featurizer.word_plan()
        dims: list[int] = []
        weights: list[np.ndarray] = []
        biases: list[np.ndarray] = []
        if fast.first_bias is not None:
            biases.append(fast.first_bias)
        layers = [*fast.layers, *([fast.head] if fast.head is not None else [])]
        if layers:
            dims.append(layers[0][0].shape[0])
            for w, b in layers:  # w is laid out [in, out]: store [out, in] rows for the dot products
                weights.append(np.ascontiguousarray(w.T).reshape(-1))
                biases.append(b)
                dims.append(w.shape[1])
        wns = plan["word_ngrams"]
        wbase = [plan["word_bases"].get(n, 0) for n in range(1, 6)]
        consts = [
            plan["num_buckets"],
            plan["max_features"],
            int(plan["boundary_tokens"]),
            _POOLING[fast.pooling],
            plan["empty_id"],
            plan["bos"],
            plan["eos"],
            len(layers),
            int(fast.first_bias is not None),
            int(fast.head is None),
            len(wns),
            *wns,
            *wbase,
            *dims,
        ]
        self.consts = np.array(consts, dtype=np.uint64)
        self.table = fast.table
        self.params = np.concatenate([*weights, *biases]).astype(np.float32)
        self._featurizer = featurizer
        self._lower = featurizer.config.lowercase
        self._kb: dict[str, bytes] = {}  # token -> its 64-bit key as 8 bytes, in native order
        self._ck: dict[str, bytes] = {}  # whitespace-free chunk -> the keys of its tokens
        self._cache_max = 1 << 18

    def _keys(self, text: str) -> np.ndarray:
        """The token keys of ``text``, as :meth:`Featurizer.token_keys` (read-only uint64).

        Printable ASCII needs no normalisation, and no token spans whitespace, so its tokens are
        those of its (lowercased) whitespace-free chunks in order (:func:`tokens_fast`): the keys
        of a chunk's tokens are cached as one byte string, and a text is one split and one join."""
        if text.isascii() and text.isprintable():
            chunks = (text.lower() if self._lower else text).split()
            ck = self._ck
            try:
                joined = b"".join([ck[c] for c in chunks])
            except KeyError:
                if len(ck) + len(chunks) > self._cache_max:
                    ck.clear()
                for c in chunks:
                    if c not in ck:
                        ck[c] = self._token_bytes(tokens(c, self._lower))
                joined = b"".join([ck[c] for c in chunks])
        else:
            joined = self._token_bytes(tokens(text, self._lower))
        return np.frombuffer(joined, dtype=np.uint64)  # read-only, as every call's: one compilation

    def _token_bytes(self, toks: list[str]) -> bytes:
        kb = self._kb
        try:
            return b"".join([kb[w] for w in toks])
        except KeyError:
            if len(kb) + len(toks) > self._cache_max:
                kb.clear()
            for w, k in zip(toks, self._featurizer.token_keys_of(toks).tolist()):
                kb[w] = k.to_bytes(8, sys.byteorder)
            return b"".join([kb[w] for w in toks])

    def ids(self, text: str) -> np.ndarray:
        """The feature ids the compiled path uses (equal to ``Featurizer.ids(text)``; for tests)."""
        return _ids(self._keys(text), self.consts)

    def __call__(self, text: str) -> np.ndarray:
        return _forward(self._keys(text), self.consts, self.table, self.params)
