"""Hashed bag-of-features for the BERT2DNN student.

A text becomes a bag of integer feature ids in ``[0, num_buckets)``:

* word n-grams over ``tokenize(normalize(text))``; with ``boundary_tokens`` the sequence is wrapped in
  ``^ ... $`` before n-grams of length >= 2 are taken (unigrams are the real tokens only), and the
  features come out interleaved per position (``a, ^ a, b, a b, ..., z $``) as in the reference
  BERT2DNN code;
* optional character n-grams of each token (``len >= 2``) padded as ``<token>``, for typos;
* for text pairs, the second text in its own namespace, plus optional query x title unigram cross
  features;
* a reserved ``<empty>`` feature when a text yields nothing else, so no bag is ever empty.

Order within one example: first-text word features, first-text char features, first-text
``<empty>``, then the same for the second text, then the cross features. ``max_features`` truncates
that list; with a pair, each text is guaranteed at least half of the budget when it needs it.

Ids are STABLE across processes and machines: a token's 64-bit key is the BLAKE2b digest of its UTF-8
bytes; a feature's id is ``fmix64(base * P^n + ...) mod num_buckets`` (polynomial hash over the token
keys mod 2^64, then the MurmurHash3 finaliser), where ``base`` is a BLAKE2b digest of
``(namespace, kind, n, hash_seed)``. Python's salted ``hash()`` is never used.

``Featurizer.ids`` (one text, pure Python with per-token caches) and ``Featurizer.batch`` (numpy,
vectorised over the batch) implement the same function; tests hold them to identical output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import chain

import numpy as np
from pydantic import Field, field_validator, model_validator

from .config import Strict
from .errors import DataError
from .tokens import batch_tokens, tokens

__all__ = ["FeaturizerConfig", "Featurizer"]

_M64 = (1 << 64) - 1
_P = 0x9E3779B97F4A7C15  # odd multiplier of the polynomial hash (golden ratio)
_C1 = 0xFF51AFD7ED558CCD  # MurmurHash3 fmix64 constants
_C2 = 0xC4CEB9FE1A85EC53
_U33 = np.uint64(33)
_UC1 = np.uint64(_C1)
_UC2 = np.uint64(_C2)
_UP = np.uint64(_P)

_NS_TEXT, _NS_PAIR = "a", "b"
_MAX_WORD_N = 5
_MAX_CHAR_N = 10


def _key64(s: str) -> int:
    """Stable 64-bit key of a string (BLAKE2b of its UTF-8 bytes)."""
    return int.from_bytes(
        hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
    )


# Boundary markers. Real tokens never contain NUL (control characters are dropped by normalize),
# so these keys cannot collide with the key of a token such as "^" or "$".
_BOS = _key64("\x00^")
_EOS = _key64("\x00$")


def _fmix(x: int) -> int:
    x ^= x >> 33
    x = (x * _C1) & _M64
    x ^= x >> 33
    x = (x * _C2) & _M64
    return x ^ (x >> 33)


def _fmix_np(x: np.ndarray) -> np.ndarray:
    """In-place fmix64 on a uint64 array (numpy integer arrays wrap modulo 2^64)."""
    x ^= x >> _U33
    x *= _UC1
    x ^= x >> _U33
    x *= _UC2
    x ^= x >> _U33
    return x


class FeaturizerConfig(Strict):
    """How text becomes hashed feature ids. Saved with every student artifact."""

    num_buckets: int = Field(
        262144, ge=16, le=1 << 40, description="2^20 scored +1.3 on SST-2 with 400k rows, at 4x the memory"
    )
    word_ngrams: list[int] = Field(default_factory=lambda: [1, 2])
    boundary_tokens: bool = True
    char_ngrams: list[int] = Field(default_factory=list)
    lowercase: bool = True
    pair_cross: bool = False
    max_cross_features: int = Field(128, ge=0)
    max_features: int = Field(512, ge=1)
    hash_seed: int = Field(0, ge=0, lt=1 << 63)

    @field_validator("word_ngrams")
    @classmethod
    def _check_word_ngrams(cls, v: list[int]) -> list[int]:
        if any(n < 1 or n > _MAX_WORD_N for n in v):
            raise ValueError(f"word n-gram sizes must be between 1 and {_MAX_WORD_N}")
        return sorted(set(v))

    @field_validator("char_ngrams")
    @classmethod
    def _check_char_ngrams(cls, v: list[int]) -> list[int]:
        if any(n < 1 or n > _MAX_CHAR_N for n in v):
            raise ValueError(f"character n-gram sizes must be between 1 and {_MAX_CHAR_N}")
        return sorted(set(v))

    @model_validator(mode="after")
    def _check_some_features(self) -> FeaturizerConfig:
        if not self.word_ngrams and not self.char_ngrams:
            raise ValueError("word_ngrams and char_ngrams are both empty: no features would be produced")
        return self


class Featurizer:
    """Text (or text pair) -> hashed feature ids, for ``torch.nn.EmbeddingBag``.

    ``cache_size`` bounds the per-token caches (entries; cleared when full).
    """

    def __init__(self, config: FeaturizerConfig | None = None, cache_size: int = 1 << 18):
        self.config = config if config is not None else FeaturizerConfig()
        cfg = self.config
        self.num_buckets = cfg.num_buckets
        self._cache_size = max(1024, int(cache_size))
        self._lower = cfg.lowercase
        self._word_ns = tuple(cfg.word_ngrams)
        self._char_ns = tuple(cfg.char_ngrams)
        self._boundary = cfg.boundary_tokens
        self._pair_cross = cfg.pair_cross
        self._max_cross = cfg.max_cross_features
        self._max_features = cfg.max_features

        seed = cfg.hash_seed
        self._namespaces = _NS_TEXT, _NS_PAIR

        def base(ns: str, kind: str) -> int:
            return _key64(f"bert2dnn-featurizer/v1/{ns}/{kind}/{seed}")

        # Per namespace: base of each word n-gram size, of char n-grams, and the <empty> id.
        self._wbase = {
            ns: {n: base(ns, f"w{n}") for n in range(1, _MAX_WORD_N + 1)} for ns in self._namespaces
        }
        # The same bases pre-multiplied by P (mod 2^64): hash = ((base*P + t1)*P + t2 ...) mod 2^64.
        self._wbase_p = {ns: {n: (b * _P) & _M64 for n, b in d.items()} for ns, d in self._wbase.items()}
        self._cbase_p = {ns: (base(ns, "c") * _P) & _M64 for ns in self._namespaces}
        self._empty_id = {ns: _fmix(base(ns, "<empty>")) % self.num_buckets for ns in self._namespaces}
        self._xbase = base("x", "cross")
        # Caches: token -> 64-bit key; token -> char n-gram keys; per namespace token -> unigram id.
        self._key: dict[str, int] = {}
        self._chars: dict[str, dict[str, tuple[int, ...]]] = {ns: {} for ns in self._namespaces}
        self._uni: dict[str, dict[str, int]] = {ns: {} for ns in self._namespaces}

    # ----------------------------------------------------------------------------------- helpers
    def __repr__(self) -> str:
        return f"Featurizer({self.config!r})"

    def __getstate__(self) -> dict:
        # Pickle (e.g. shipping to Ray workers) carries the config only, never the caches.
        return {"config": self.config.model_dump(mode="json"), "cache_size": self._cache_size}

    def __setstate__(self, state: dict) -> None:
        self.__init__(FeaturizerConfig.model_validate(state["config"]), cache_size=state["cache_size"])

    def to_dict(self) -> dict:
        """The config as plain JSON types (what a student artifact stores)."""
        return self.config.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict) -> Featurizer:
        return cls(FeaturizerConfig.model_validate(data))

    def tokens(self, text: str) -> list[str]:
        """The tokens features are built from: ``tokenize(normalize(text), lowercase)``."""
        return tokens(text, self._lower)

    def _keys(self, toks: list[str]) -> list[int]:
        cache = self._key
        try:
            return [cache[w] for w in toks]
        except KeyError:
            pass
        if len(cache) + len(toks) > self._cache_size:
            cache.clear()
        out = []
        for w in toks:
            v = cache.get(w)
            if v is None:
                v = cache[w] = _key64(w)
            out.append(v)
        return out

    def _char_ids(self, tok: str, ns: str) -> tuple[int, ...]:
        """Bucket ids of the character n-grams of ``<tok>`` in namespace ``ns`` (cached)."""
        cache = self._chars[ns]
        got = cache.get(tok)
        if got is None:
            if len(tok) < 2:
                got = ()
            else:
                s = f"<{tok}>"
                cb = self._cbase_p[ns]
                nb = self.num_buckets
                got = tuple(
                    _fmix((cb + _key64(s[i : i + n])) & _M64) % nb
                    for n in self._char_ns
                    for i in range(len(s) - n + 1)
                )
            if len(cache) >= self._cache_size:
                cache.clear()
            cache[tok] = got
        return got

    def _char_ids_many(self, toks: list[str], ns: str) -> list[tuple[int, ...]]:
        try:
            return list(map(self._chars[ns].__getitem__, toks))
        except KeyError:
            return [self._char_ids(w, ns) for w in toks]

    def token_keys(self, text: str) -> np.ndarray:
        """The 64-bit keys (uint64) of ``text``'s tokens, in order: what word n-gram ids are hashed
        from (for the compiled one-text path, :mod:`bert2dnn_ray.student.compiled`)."""
        return self.token_keys_of(tokens(text, self._lower))

    def token_keys_of(self, toks: list[str]) -> np.ndarray:
        """The 64-bit keys (uint64) of tokens (cached)."""
        return np.array(self._keys(toks), dtype=np.uint64)

    def word_plan(self) -> dict:
        """The constants word n-gram ids of the first text are computed from (see the module
        docstring): buckets, the n-gram sizes and their bases, boundary keys, ``<empty>`` id."""
        return {
            "num_buckets": self.num_buckets,
            "max_features": self._max_features,
            "boundary_tokens": self._boundary,
            "word_ngrams": list(self._word_ns),
            "word_bases": dict(self._wbase_p[_NS_TEXT]),
            "empty_id": self._empty_id[_NS_TEXT],
            "bos": _BOS,
            "eos": _EOS,
        }

    # ----------------------------------------------------------------------------- single text
    def _ns_features(self, toks: list[str], ns: str) -> tuple[list[int], list[int], list[int]]:
        """(word ids, char ids, <empty> ids) of one text in namespace ``ns`` (pure Python)."""
        nb = self.num_buckets
        words: list[int] = []
        wns = self._word_ns
        if wns:
            keys = self._keys(toks)
            uni = self._uni[ns]
            wbp = self._wbase_p[ns]
            if self._boundary:
                seq = [_BOS, *keys, _EOS]
                first = 1
            else:
                seq = keys
                first = 0
            end_real = first + len(toks)
            for g in range(first, len(seq)):
                for n in wns:
                    if n == 1:
                        if g < end_real:
                            tok = toks[g - first]
                            u = uni.get(tok)
                            if u is None:
                                u = _fmix((wbp[1] + seq[g]) & _M64) % nb
                                if len(uni) >= self._cache_size:
                                    uni.clear()
                                uni[tok] = u
                            words.append(u)
                        continue
                    if g < n - 1:
                        continue
                    if n == 2:
                        h = ((wbp[2] + seq[g - 1]) * _P + seq[g]) & _M64
                    else:
                        h = wbp[n] + seq[g - n + 1]
                        for k in range(g - n + 2, g + 1):
                            h = h * _P + seq[k]
                        h &= _M64
                    # fmix64, inlined (this loop is the single-text hot path)
                    h ^= h >> 33
                    h = (h * _C1) & _M64
                    h ^= h >> 33
                    h = (h * _C2) & _M64
                    words.append((h ^ (h >> 33)) % nb)
        chars: list[int] = []
        if self._char_ns:
            for c in self._char_ids_many(toks, ns):
                chars += c
        empty = [] if (words or chars) else [self._empty_id[ns]]
        return words, chars, empty

    def ids(self, text: str, pair: str | None = None) -> np.ndarray:
        """Feature ids (int64, never empty) of one text or text pair. Same ids as :meth:`batch`."""
        try:
            ta = tokens(text, self._lower)
            tb = None if pair is None else tokens(pair, self._lower)
        except (AttributeError, TypeError):
            bad = "text" if not isinstance(text, str) else "pair"
            got = type(text if bad == "text" else pair).__name__
            raise DataError(f"featurizer: {bad} must be a string, got {got}") from None
        m = self._max_features
        wa, ca, ea = self._ns_features(ta, _NS_TEXT)
        if tb is None:
            out = wa + ca + ea
            return np.array(out[:m], dtype=np.int64)
        wb, cb, eb = self._ns_features(tb, _NS_PAIR)
        fa = wa + ca + ea
        fb = wb + cb + eb
        cross: list[int] = []
        if self._pair_cross and self._max_cross > 0 and ta and tb:
            nb = self.num_buckets
            ka = self._keys(ta)
            kb = self._keys(tb)
            limit = min(self._max_cross, len(ka) * len(kb))
            xb = self._xbase
            for a in ka:
                ha = (xb * _P + a) * _P
                for b in kb:
                    cross.append(_fmix((ha + b) & _M64) % nb)
                    if len(cross) == limit:
                        break
                if len(cross) == limit:
                    break
        keep_a, keep_b, keep_x = _pair_budget(len(fa), len(fb), len(cross), m)
        return np.array(fa[:keep_a] + fb[:keep_b] + cross[:keep_x], dtype=np.int64)

    def _ns_features_np(self, flat: list[str], lens: np.ndarray, ns: str, keys: np.ndarray | None):
        """Vectorised :meth:`_ns_features` for a batch: [(values uint64, per-text counts)] x3."""
        n_texts = len(lens)
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        zero = np.zeros(n_texts, dtype=np.int64)
        if self._word_ns:
            wb = self._wbase[ns]
            T = len(flat)
            if self._boundary:
                seg_len = lens + 2
                seg_start = np.zeros(n_texts, dtype=np.int64)
                np.cumsum(seg_len[:-1], out=seg_start[1:])
                G = T + 2 * n_texts
                seq = np.empty(G, dtype=np.uint64)
                seq[seg_start] = _BOS
                seq[seg_start + lens + 1] = _EOS
                tok_pos = np.arange(T, dtype=np.int64) + np.repeat(2 * np.arange(n_texts) + 1, lens)
                seq[tok_pos] = keys
                real = np.zeros(G, dtype=bool)
                real[tok_pos] = True
            else:
                seg_len = lens
                seg_start = np.zeros(n_texts, dtype=np.int64)
                np.cumsum(seg_len[:-1], out=seg_start[1:])
                G = T
                seq = keys
                real = np.ones(G, dtype=bool)
            pos = np.arange(G, dtype=np.int64) - np.repeat(seg_start, seg_len)
            nmax = max(self._word_ns)
            padded = np.concatenate([np.zeros(nmax - 1, dtype=np.uint64), seq]) if nmax > 1 else seq
            cols = []
            valid = []
            counts = np.zeros(n_texts, dtype=np.int64)
            for n in self._word_ns:
                h = np.full(G, wb[n], dtype=np.uint64)
                for k in range(n):
                    off = nmax - n + k
                    h *= _UP
                    h += padded[off : off + G]
                cols.append(_fmix_np(h))
                if n == 1:
                    valid.append(real)
                    counts += lens
                else:
                    valid.append(pos >= n - 1)
                    counts += np.maximum(seg_len - (n - 1), 0)
            if len(cols) == 1:
                wvals = cols[0][valid[0]]
            else:
                wvals = np.stack(cols, axis=1)[np.stack(valid, axis=1)]
            parts.append((wvals, counts))
        else:
            parts.append((np.zeros(0, dtype=np.uint64), zero))
        if self._char_ns:
            per_tok = self._char_ids_many(flat, ns)
            tok_counts = np.fromiter(map(len, per_tok), dtype=np.int64, count=len(per_tok))
            cvals = np.fromiter(chain.from_iterable(per_tok), dtype=np.uint64, count=int(tok_counts.sum()))
            cum = np.zeros(len(flat) + 1, dtype=np.int64)
            np.cumsum(tok_counts, out=cum[1:])
            ends = np.cumsum(lens)
            ccounts = cum[ends] - cum[ends - lens]
            parts.append((cvals, ccounts))
        else:
            parts.append((np.zeros(0, dtype=np.uint64), zero))
        ecounts = ((parts[0][1] + parts[1][1]) == 0).astype(np.int64)
        parts.append((np.full(int(ecounts.sum()), self._empty_id[ns], dtype=np.uint64), ecounts))
        return parts

    def batch(
        self, texts: Sequence[str], pairs: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Feature ids of many texts (or pairs): ``(ids int64 [total], offsets int64 [N])``.

        Bag ``i`` is ``ids[offsets[i]:offsets[i+1]]`` (the last one runs to the end); no bag is empty.
        """
        n = len(texts)
        if pairs is not None and len(pairs) != n:
            raise DataError(f"featurizer: {len(pairs)} pair texts for {n} texts; the counts must match")
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        m = self._max_features
        need_keys = bool(self._word_ns) or (pairs is not None and self._pair_cross)

        flat_a, lens_a = batch_tokens(texts, self._lower, "texts")
        keys_a = np.array(self._keys(flat_a), dtype=np.uint64) if need_keys else None
        parts_a = self._ns_features_np(flat_a, lens_a, _NS_TEXT, keys_a)
        len_a = parts_a[0][1] + parts_a[1][1] + parts_a[2][1]
        if pairs is None:
            keep_a = np.minimum(len_a, m)
            sections = [(parts_a, keep_a)]
        else:
            flat_b, lens_b = batch_tokens(pairs, self._lower, "pairs")
            keys_b = np.array(self._keys(flat_b), dtype=np.uint64) if need_keys else None
            parts_b = self._ns_features_np(flat_b, lens_b, _NS_PAIR, keys_b)
            len_b = parts_b[0][1] + parts_b[1][1] + parts_b[2][1]
            if self._pair_cross and self._max_cross > 0:
                xcounts = np.minimum(lens_a * lens_b, self._max_cross)
                tot = int(xcounts.sum())
                ex = np.repeat(np.arange(n, dtype=np.int64), xcounts)
                xstart = np.zeros(n, dtype=np.int64)
                np.cumsum(xcounts[:-1], out=xstart[1:])
                k = np.arange(tot, dtype=np.int64) - xstart[ex]
                nb_ex = lens_b[ex]
                start_a = np.cumsum(lens_a) - lens_a
                start_b = np.cumsum(lens_b) - lens_b
                ka = keys_a[start_a[ex] + k // np.maximum(nb_ex, 1)]
                kb = keys_b[start_b[ex] + k % np.maximum(nb_ex, 1)]
                h = np.full(tot, (self._xbase * _P) & _M64, dtype=np.uint64)
                h += ka
                h *= _UP
                h += kb
                xparts = [(_fmix_np(h), xcounts)]
            else:
                xcounts = np.zeros(n, dtype=np.int64)
                xparts = [(np.zeros(0, dtype=np.uint64), xcounts)]
            keep_a, keep_b, keep_x = _pair_budget_np(len_a, len_b, xcounts, m)
            sections = [(parts_a, keep_a), (parts_b, keep_b), (xparts, keep_x)]

        # Per-part keep counts: within a section, parts fill the section budget in order.
        plan: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for parts, keep in sections:
            left = keep
            for vals, counts in parts:
                k = np.minimum(counts, left)
                left = left - k
                plan.append((vals, counts, k))
        out_counts = sum(k for _, _, k in plan)
        offsets = np.zeros(n, dtype=np.int64)
        np.cumsum(out_counts[:-1], out=offsets[1:])
        out = np.empty(int(out_counts.sum()), dtype=np.uint64)
        dest_base = offsets.copy()
        for vals, counts, k in plan:
            if len(vals):
                starts = np.cumsum(counts) - counts
                shift = np.repeat(dest_base - starts, counts)
                dest = np.arange(len(vals), dtype=np.int64) + shift
                if np.array_equal(k, counts):
                    out[dest] = vals
                else:
                    rank = np.arange(len(vals), dtype=np.int64) - np.repeat(starts, counts)
                    sel = rank < np.repeat(k, counts)
                    out[dest[sel]] = vals[sel]
            dest_base = dest_base + k
        out %= np.uint64(self.num_buckets)
        return out.astype(np.int64), offsets


def _pair_budget(la: int, lb: int, lx: int, m: int) -> tuple[int, int, int]:
    """How many first-text, second-text and cross features to keep under a total cap ``m``."""
    keep_a = min(la, max(m // 2, m - lb))
    keep_b = min(lb, m - keep_a)
    keep_x = min(lx, m - keep_a - keep_b)
    return keep_a, keep_b, keep_x


def _pair_budget_np(la: np.ndarray, lb: np.ndarray, lx: np.ndarray, m: int):
    keep_a = np.minimum(la, np.maximum(m // 2, m - lb))
    keep_b = np.minimum(lb, m - keep_a)
    keep_x = np.minimum(lx, m - keep_a - keep_b)
    return keep_a, keep_b, keep_x
