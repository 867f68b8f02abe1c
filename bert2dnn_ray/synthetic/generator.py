"""Generation: queries, product titles, typos, label noise and the four split tables.

Draws from the lookup tables of :mod:`.compiled` (importing this module builds them). Every split
has its own random stream derived from ``(seed, split)``; the same config always gives
byte-identical tables.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from .. import io
from .compiled import (
    BRAND_LOCAL,
    BRAND_Q,
    BRAND_T,
    BRANDS,
    C_BRAND_GROUP,
    C_CAT,
    C_COLOUR,
    C_DESC,
    C_GENDER_SET,
    C_HAS_MODS,
    C_LOOSE,
    C_NOUNS,
    C_SIZE_KIND,
    C_TITLES,
    CAT_CONCEPTS,
    COLOUR_VARIANTS,
    GENDER_VARIANTS,
    MOD_Q,
    MOD_SHARED,
    MODS,
    NC,
    ORDER_P,
    ORDERS,
    PRICE_Q,
    SIZE_VARIANTS,
    STYLE_NAMES,
    SUFFIX_Q,
    SURF_CAT,
    SURF_COLOUR_OK,
    SURF_CONCEPT,
    SURF_TEXT,
    SURF_TITLE,
    TITLE_DESC,
    TITLE_NOUN,
    WEIGHTS,
)
from .concepts import E, F, H
from .config import SPLITS, SyntheticConfig, label_names
from .vocabulary import (
    P_BRAND,
    P_CAPITAL,
    P_COLOUR,
    P_GENDER,
    P_MOD,
    P_MOD2,
    P_MOD_CONCEPT,
    P_MOD_SHARED,
    P_PRICE,
    P_SIZE,
    P_SUFFIX,
    P_TYPO,
    POPULAR_POOL_FRACTION,
    PRICES,
    REPEAT_RATE,
    SUFFIXES,
    ZIPF_EXPONENT,
)

_SPLIT_CODE = {"train": 1, "dev": 2, "test": 3, "unlabeled": 4}
_ID_PREFIX = {"train": "tr", "dev": "dv", "test": "te", "unlabeled": "ul"}
# Splits whose queries may use the held-out nouns.
_HELDOUT_SPLITS = frozenset({"test", "unlabeled"})

_KEYBOARD_NEIGHBOURS = {
    "a": "sqw", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj", "i": "uo",
    "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "w", "r": "et",
    "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "x",
}  # fmt: skip


def _typo(text: str, r1: int, r2: int, kind: int) -> str:
    """Corrupt one word of four or more letters: drop, swap, double or mistype a letter."""
    words = text.split(" ")
    cand = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not cand:
        return text
    wi = cand[r1 % len(cand)]
    w = words[wi]
    p = 1 + r2 % (len(w) - 2)  # keep the first letter
    if kind == 0:
        w = w[:p] + w[p + 1 :]
    elif kind == 1:
        w = w[:p] + w[p + 1] + w[p] + w[p + 2 :]
    elif kind == 2:
        w = w[:p] + w[p] + w[p:]
    else:
        near = _KEYBOARD_NEIGHBOURS.get(w[p], w[p])
        w = w[:p] + near[r2 % len(near)] + w[p + 1 :]
    words[wi] = w
    return " ".join(words)


class _Queries(NamedTuple):
    text: list[str]
    label: np.ndarray  # category
    surface: np.ndarray
    concept: np.ndarray  # -1 for ambiguous heads
    brand: np.ndarray  # brand index or -1
    colour: np.ndarray  # canonical colour or -1
    size: np.ndarray  # canonical size or -1
    gender: np.ndarray  # canonical gender (within its set) or -1
    gender_local: np.ndarray
    colour_local: np.ndarray
    size_local: np.ndarray


def _queries(rng: np.random.Generator, n: int, weights: np.ndarray) -> _Queries:
    """Draw ``n`` queries; vectorised except for the final string assembly."""
    surf = rng.choice(weights.shape[0], size=n, p=weights)
    concept = SURF_CONCEPT[surf]
    amb = concept < 0
    ci = np.where(amb, NC, concept)  # dummy row for ambiguous heads
    cat = SURF_CAT[surf]

    def coin(p: float) -> np.ndarray:
        return rng.random(n) < p

    brand, _ = BRANDS.pick(rng, C_BRAND_GROUP[ci])
    brand = np.where(coin(P_BRAND), brand, -1)

    gset = C_GENDER_SET[ci]
    gender, gender_local = GENDER_VARIANTS.kinds.pick(rng, gset)
    gvar, _ = GENDER_VARIANTS.spellings.pick(rng, np.where(gender >= 0, gender, -1))
    has_g = coin(P_GENDER) & (gender >= 0)
    gender = np.where(has_g, gender, -1)

    # Modifiers: product-specific, else the category's, else shared. Ambiguous heads: shared only.
    u = rng.random(n)
    mod_group = np.where(u < P_MOD_CONCEPT, 5 + ci, cat)
    mod_group = np.where(~C_HAS_MODS[ci] & (u < P_MOD_CONCEPT), cat, mod_group)
    mod_group = np.where((rng.random(n) < P_MOD_SHARED) | amb, MOD_SHARED, mod_group)
    mod1, _ = MODS.pick(rng, mod_group)
    mod1 = np.where(coin(P_MOD) & (~amb | coin(0.75)), mod1, -1)
    mod2, _ = MODS.pick(rng, np.where(amb, -1, cat))
    mod2 = np.where(coin(P_MOD2) & (mod2 != mod1), mod2, -1)

    colour, colour_local = COLOUR_VARIANTS.kinds.pick(rng, np.zeros(n, dtype=np.int64))
    cvar, _ = COLOUR_VARIANTS.spellings.pick(rng, colour)
    colour = np.where(coin(P_COLOUR) & SURF_COLOUR_OK[surf], colour, -1)

    size, size_local = SIZE_VARIANTS.kinds.pick(rng, C_SIZE_KIND[ci])
    svar, _ = SIZE_VARIANTS.spellings.pick(rng, np.where(size >= 0, size, -1))
    size = np.where(coin(P_SIZE) & (size >= 0), size, -1)

    price = np.where(coin(P_PRICE), rng.integers(0, len(PRICES), n), -1)
    suffix = np.where(coin(P_SUFFIX), rng.integers(0, len(SUFFIXES), n), -1)
    order = rng.choice(len(ORDERS), size=n, p=ORDER_P / ORDER_P.sum())
    typo = coin(P_TYPO)
    typo_r = rng.integers(0, 1 << 30, size=(n, 3))
    capital = coin(P_CAPITAL)

    cols = [
        BRAND_Q[brand].tolist(),
        GENDER_VARIANTS.query[np.where(gender >= 0, gvar, -1)].tolist(),
        MOD_Q[mod1].tolist(),
        MOD_Q[mod2].tolist(),
        COLOUR_VARIANTS.query[np.where(colour >= 0, cvar, -1)].tolist(),
        SURF_TEXT[surf].tolist(),
        SIZE_VARIANTS.query[np.where(size >= 0, svar, -1)].tolist(),
        PRICE_Q[price].tolist(),
        SUFFIX_Q[suffix].tolist(),
    ]
    orders = ORDERS
    texts: list[str] = []
    append = texts.append
    for o, *slots in zip(order.tolist(), *cols, strict=True):
        words = " ".join([slots[k] for k in orders[o] if slots[k]]).split(" ")
        if len(set(words)) != len(words):  # "wireless wireless speaker" -> "wireless speaker"
            kept: list[str] = []
            for w in words:  # numbers may repeat ("30 x 30")
                if w not in kept or not w.isalpha():
                    kept.append(w)
            words = kept
        append(" ".join(words))
    for i in np.flatnonzero(typo).tolist():
        r = typo_r[i]
        texts[i] = _typo(texts[i], int(r[0]), int(r[1]), int(r[2]) % 4)
    for i in np.flatnonzero(capital).tolist():
        texts[i] = texts[i][:1].upper() + texts[i][1:]
    return _Queries(
        texts, cat, surf, concept, brand, colour, size, gender,
        np.where(gender >= 0, gender_local, -1), np.where(colour >= 0, colour_local, -1),
        np.where(size >= 0, size_local, -1),
    )  # fmt: skip


def _titles(rng: np.random.Generator, q: _Queries) -> tuple[list[str], np.ndarray]:
    """A product title per query, relevant (1) or not (0), about half each."""
    n = len(q.text)
    concept = q.concept  # pair-task queries never use ambiguous heads
    cat = C_CAT[concept]
    relevant = rng.random(n) < 0.5
    # Negatives: 0 another category, 1 a sibling product of the same category, 2 same product with a
    # conflicting attribute (brand, colour, size, gender; or another noun for a loose product).
    neg = rng.choice(3, size=n, p=[0.3, 0.35, 0.35])

    # Attribute conflicts available for each row.
    cand = np.stack(
        [
            q.brand >= 0,
            q.colour >= 0,
            q.size >= 0,
            (q.gender >= 0) & (GENDER_VARIANTS.kinds.lengths[C_GENDER_SET[concept]] > 1),
            C_LOOSE[concept] & (C_NOUNS.lengths[concept] > 1),
        ],
        axis=1,
    )
    # Random priority per candidate; the conflict is the highest-priority available one.
    prio = np.where(cand, rng.random((n, cand.shape[1])), -1.0)
    conflict = np.where(cand.any(axis=1), prio.argmax(axis=1), -1)
    neg = np.where((neg == 2) & (conflict < 0), 1, neg)
    conflict = np.where(~relevant & (neg == 2), conflict, -1)

    other_cat = (cat + rng.integers(1, 4, size=n)) % 4
    c_other, _ = CAT_CONCEPTS.pick(rng, other_cat)
    local_in_cat = concept - CAT_CONCEPTS.offsets[cat]  # concepts of a category are contiguous
    c_sibling = CAT_CONCEPTS.pick_other(rng, cat, local_in_cat)
    tconcept = np.where(relevant | (neg == 2), concept, np.where(neg == 0, c_other, c_sibling))
    same = tconcept == concept
    tcat = C_CAT[tconcept]

    # Brand.
    b_rand, _ = BRANDS.pick(rng, C_BRAND_GROUP[tconcept])
    has_b = q.brand >= 0
    b_local = BRAND_LOCAL[C_BRAND_GROUP[concept], q.brand]
    b_other = BRANDS.pick_other(rng, C_BRAND_GROUP[concept], b_local)
    tbrand = np.where(same & has_b, q.brand, b_rand)
    tbrand = np.where((conflict == 0) & (b_other >= 0), b_other, tbrand)

    # Colour.
    c_rand, _ = COLOUR_VARIANTS.kinds.pick(rng, np.zeros(n, dtype=np.int64))
    c_other = COLOUR_VARIANTS.kinds.pick_other(rng, np.zeros(n, dtype=np.int64), q.colour_local)
    tcolour = np.where(C_COLOUR[tconcept] & (rng.random(n) < 0.85), c_rand, -1)
    tcolour = np.where(same & (q.colour >= 0), np.where(conflict == 1, c_other, q.colour), tcolour)

    # Size.
    s_rand, _ = SIZE_VARIANTS.kinds.pick(rng, C_SIZE_KIND[tconcept])
    s_other = SIZE_VARIANTS.kinds.pick_other(rng, C_SIZE_KIND[concept], q.size_local)
    tsize = np.where(rng.random(n) < 0.85, s_rand, -1)
    tsize = np.where(same & (q.size >= 0), np.where(conflict == 2, s_other, q.size), tsize)

    # Gender (fashion).
    g_rand, _ = GENDER_VARIANTS.kinds.pick(rng, C_GENDER_SET[tconcept])
    g_other = GENDER_VARIANTS.kinds.pick_other(rng, C_GENDER_SET[concept], q.gender_local)
    tgender = np.where(same & (q.gender >= 0), np.where(conflict == 3, g_other, q.gender), g_rand)

    # Noun: tight products use their title nouns; loose ones name a noun (the query's when relevant).
    tn_rand, _ = C_TITLES.pick(rng, tconcept)
    loose_rand, _ = C_NOUNS.pick(rng, tconcept)
    surf_local = np.full(n, -1, dtype=np.int64)
    loose_q = C_LOOSE[concept]
    surf_local[loose_q] = q.surface[loose_q] - C_NOUNS.items[C_NOUNS.offsets[concept[loose_q]]]
    loose_other = C_NOUNS.pick_other(rng, concept, surf_local)
    loose_noun = np.where(same & loose_q, q.surface, loose_rand)
    loose_noun = np.where(conflict == 4, loose_other, loose_noun)
    noun_text = np.where(C_LOOSE[tconcept], SURF_TITLE[loose_noun], TITLE_NOUN[tn_rand])
    desc, _ = C_DESC.pick(rng, tconcept)
    desc = np.where(rng.random(n) < 0.85, desc, -1)

    model_l = rng.integers(0, 26, size=(n, 2))
    model_d = rng.integers(100, 9999, size=n)
    model_s = rng.integers(0, 30, size=n)  # suffix letter when < 26
    style = rng.integers(0, STYLE_NAMES.shape[0] - 1, size=n)
    has_model = rng.random(n) < 0.8

    cols = zip(
        tcat.tolist(),
        BRAND_T[tbrand].tolist(),
        has_model.tolist(),
        model_l.tolist(),
        model_d.tolist(),
        model_s.tolist(),
        STYLE_NAMES[style].tolist(),
        GENDER_VARIANTS.title[tgender].tolist(),
        TITLE_DESC[desc].tolist(),
        noun_text.tolist(),
        COLOUR_VARIANTS.title[tcolour].tolist(),
        SIZE_VARIANTS.title[tsize].tolist(),
        strict=True,
    )
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    titles: list[str] = []
    for k, brand, hm, ml, md, ms, sty, gen, des, noun, col, siz in cols:
        if k == E or k == H:
            model = f"{letters[ml[0]]}{letters[ml[1]]}-{md}{letters[ms] if ms < 26 else ''}" if hm else ""
            head = [brand, model, des, noun] if k == E else [brand, des, noun]
            tail = [col, siz] if k == E else [siz, col]
        elif k == F:
            head = [brand, gen, sty if hm else "", des, noun]
            tail = [col, siz]
        else:
            head = [brand, des, noun]
            tail = [siz]
        if des[:1].islower():  # "Webcam with Microphone", "Albacore Tuna in Water"
            head = [h for h in head if h != des] + [des]
        titles.append(", ".join([" ".join([h for h in head if h])] + [t for t in tail if t]))
    return titles, relevant.astype(np.int64)


def _stream(seed: int, split: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _SPLIT_CODE[split]])))


def _noisy(rng: np.random.Generator, label: np.ndarray, k: int, noise: float) -> np.ndarray:
    flip = rng.random(label.shape[0]) < noise
    shift = rng.integers(1, k, size=label.shape[0])
    return np.where(flip, (label + shift) % k, label).astype(np.int64)


def _ids(split: str, n: int) -> pa.Array:
    width = max(7, len(str(n)))
    prefix = _ID_PREFIX[split]
    return pa.array([f"{prefix}-{i:0{width}d}" for i in range(n)], type=pa.string())


def _schema(task: str, fields: list[pa.Field]) -> pa.Schema:
    meta = {
        b"label_names": json.dumps(label_names(task)).encode(),
        b"task": task.encode(),
        b"generator": b"bert2dnn_ray.synthetic",
    }
    return pa.schema(fields, metadata=meta)


def _split_table(cfg: SyntheticConfig, split: str, n: int) -> pa.Table:
    rng = _stream(cfg.seed, split)
    labeled = split != "unlabeled"
    pair = cfg.task == "query_title"
    weights = WEIGHTS[(split in _HELDOUT_SPLITS, not pair)]
    k = len(label_names(cfg.task))

    def make(m: int) -> tuple[list[str], list[str] | None, np.ndarray]:
        q = _queries(rng, m, weights)
        if not pair:
            return q.text, None, q.label
        titles, rel = _titles(rng, q)
        return q.text, titles, rel

    if labeled:
        text, titles, label = make(n)
    else:
        # Query-log structure: a pool of popular rows, repeated with Zipf weights.
        text, titles, _ = make(n)
        if n:
            # Popular queries are mostly short ("tv", "running shoes"): rank candidates by length.
            pool_n = max(10, int(n * POPULAR_POOL_FRACTION))
            cand_text, cand_titles, _ = make(2 * pool_n)
            keep = sorted(range(2 * pool_n), key=lambda i: len(cand_text[i].split(" ")))[:pool_n]
            pool_text = [cand_text[i] for i in keep]
            pool_titles = [cand_titles[i] for i in keep] if cand_titles is not None else None
            zipf = np.arange(1, pool_n + 1, dtype=np.float64) ** -ZIPF_EXPONENT
            repeat = np.flatnonzero(rng.random(n) < REPEAT_RATE)
            which = rng.choice(pool_n, size=repeat.shape[0], p=zipf / zipf.sum())
            for i, j in zip(repeat.tolist(), which.tolist(), strict=True):
                text[i] = pool_text[j]
                if titles is not None and pool_titles is not None:
                    titles[i] = pool_titles[j]

    cols: dict[str, pa.Array] = {"id": _ids(split, n)}
    fields = [pa.field("id", pa.string(), nullable=False)]
    if pair:
        cols["query"] = pa.array(text, type=pa.string())
        cols["title"] = pa.array(titles, type=pa.string())
        fields += [
            pa.field("query", pa.string(), nullable=False),
            pa.field("title", pa.string(), nullable=False),
        ]
    else:
        cols["text"] = pa.array(text, type=pa.string())
        fields.append(pa.field("text", pa.string(), nullable=False))
    if labeled:
        cols["label"] = pa.array(_noisy(rng, label, k, cfg.label_noise), type=pa.int64())
        fields.append(pa.field("label", pa.int64(), nullable=False))
    schema = _schema(cfg.task, fields)
    return pa.Table.from_arrays([cols[f.name] for f in schema], schema=schema)


def generate(cfg: SyntheticConfig | dict[str, Any] | None = None) -> dict[str, pa.Table]:
    """Make the four splits: ``train``, ``dev``, ``test`` (labeled) and ``unlabeled``.

    Deterministic: the same config gives byte-identical tables. Each split has its own random
    stream, so e.g. ``num_unlabeled`` does not change the labeled splits.
    """
    cfg = _as_config(cfg)
    sizes = {
        "train": cfg.num_labeled,
        "dev": cfg.num_dev,
        "test": cfg.num_test,
        "unlabeled": cfg.num_unlabeled,
    }
    return {split: _split_table(cfg, split, sizes[split]) for split in SPLITS}


def write(cfg: SyntheticConfig | dict[str, Any] | None, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Generate and write ``{train,dev,test,unlabeled}.parquet`` (zstd) into ``out_dir``."""
    cfg = _as_config(cfg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for split, table in generate(cfg).items():
        path = out / f"{split}.parquet"
        io.write_parquet_atomic(table, str(path))  # readers never see a half-written file
        paths[split] = path
    return paths


def _as_config(cfg: SyntheticConfig | dict[str, Any] | None) -> SyntheticConfig:
    if cfg is None:
        return SyntheticConfig()
    if isinstance(cfg, SyntheticConfig):
        return cfg
    return SyntheticConfig.model_validate(cfg)
