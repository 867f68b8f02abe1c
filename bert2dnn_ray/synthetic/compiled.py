"""The vocabulary compiled into numpy lookup tables, built once when this module is imported.

Index -1 of every text array is ``""`` and of every group is an empty group, so a missing slot
(-1) needs no special case. The import also checks the held-out-noun design
(:func:`_check_vocabulary`).
"""

from __future__ import annotations

import numpy as np

from .concepts import CONCEPTS
from .vocabulary import (
    AMBIGUOUS,
    BRAND_GROUPS,
    BRAND_TITLES,
    CATEGORY_MODS,
    COLOURS,
    GENDERS,
    HELD_NOUN_WEIGHT,
    HELDOUT_NOUNS,
    P_AMBIGUOUS,
    P_BARE,
    PRICES,
    SHARED_MODS,
    SIZE_KINDS,
    SUFFIXES,
)


class _Groups:
    """Groups of integer items, for vectorised "pick a random member of group g[i]" draws.

    Group id -1 (and any empty group) yields -1.
    """

    def __init__(self, groups: list[list[int]]):
        lengths = [len(g) for g in groups] + [0]  # trailing empty group serves id -1
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths[:-1])]).astype(np.int64)
        flat = [x for g in groups for x in g]
        self.items = np.asarray(flat + [-1], dtype=np.int64)

    def pick(self, rng: np.random.Generator, gid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Returns (item, local position) per row; -1 where the group is empty."""
        n_items = self.lengths[gid]
        local = (rng.random(gid.shape[0]) * n_items).astype(np.int64)
        pos = np.minimum(self.offsets[gid] + local, self.items.shape[0] - 1)
        ok = n_items > 0
        return np.where(ok, self.items[pos], -1), np.where(ok, local, -1)

    def pick_other(self, rng: np.random.Generator, gid: np.ndarray, local: np.ndarray) -> np.ndarray:
        """A member of group g[i] other than the one at ``local[i]``; -1 where there is none."""
        n_items = self.lengths[gid]
        step = 1 + (rng.random(gid.shape[0]) * np.maximum(n_items - 1, 1)).astype(np.int64)
        other = (np.maximum(local, 0) + step) % np.maximum(n_items, 1)
        pos = np.minimum(self.offsets[gid] + other, self.items.shape[0] - 1)
        return np.where((n_items > 1) & (local >= 0), self.items[pos], -1)


def _text_array(values: list[str]) -> np.ndarray:
    """Object array of strings with a trailing '' so that index -1 gives an empty string."""
    out = np.empty(len(values) + 1, dtype=object)
    out[:-1] = values
    out[-1] = ""
    return out


class _Variants:
    """Canonical values (grouped by kind) with query spellings: colours, sizes, genders."""

    def __init__(self, kinds: dict[str, list[tuple[str, list[str]]]]):
        self.kind_ids = {k: i for i, k in enumerate(kinds)}
        titles: list[str] = []
        kind_groups: list[list[int]] = []
        variant_groups: list[list[int]] = []
        variants: list[str] = []
        for values in kinds.values():
            group = []
            for title, spellings in values:
                group.append(len(titles))
                titles.append(title)
                variant_groups.append(list(range(len(variants), len(variants) + len(spellings))))
                variants.extend(spellings)
            kind_groups.append(group)
        self.kinds = _Groups(kind_groups)
        self.spellings = _Groups(variant_groups)
        self.title = _text_array(titles)
        self.query = _text_array(variants)


COLOUR_VARIANTS = _Variants({"colour": COLOURS})
SIZE_VARIANTS = _Variants(SIZE_KINDS)
_GENDER_SETS = sorted({c.genders for c in CONCEPTS if c.genders})
GENDER_VARIANTS = _Variants({str(s): [GENDERS[i] for i in s] for s in _GENDER_SETS})

# Brands: query spellings and title spellings; groups by name.
_BRAND_NAMES = sorted({b for group in BRAND_GROUPS.values() for b in group})
_BRAND_INDEX = {b: i for i, b in enumerate(_BRAND_NAMES)}
_BRAND_GROUP_IDS = {name: i for i, name in enumerate(BRAND_GROUPS)}
BRANDS = _Groups([[_BRAND_INDEX[b] for b in group] for group in BRAND_GROUPS.values()])
BRAND_Q = _text_array(_BRAND_NAMES)
BRAND_T = _text_array([BRAND_TITLES.get(b, b.title()) for b in _BRAND_NAMES])
# Position of a brand within a group ([-1, -1] and non-members give -1).
BRAND_LOCAL = np.full((len(BRAND_GROUPS) + 1, len(_BRAND_NAMES) + 1), -1, dtype=np.int64)
for _gi, _group in enumerate(BRAND_GROUPS.values()):
    for _pos, _b in enumerate(_group):
        BRAND_LOCAL[_gi, _BRAND_INDEX[_b]] = _pos

# Modifiers: groups 0-3 by category, 4 shared, 5+i product-specific for concept i.
_MOD_WORDS: list[str] = []
_MOD_GROUP_LISTS: list[list[str]] = [*CATEGORY_MODS, SHARED_MODS, *[list(c.mods) for c in CONCEPTS]]
_MOD_INDEX: dict[str, int] = {}
for _group in _MOD_GROUP_LISTS:
    for _w in _group:
        _MOD_INDEX.setdefault(_w, len(_MOD_WORDS))
        if _MOD_INDEX[_w] == len(_MOD_WORDS):
            _MOD_WORDS.append(_w)
MODS = _Groups([[_MOD_INDEX[w] for w in g] for g in _MOD_GROUP_LISTS])
MOD_Q = _text_array(_MOD_WORDS)
MOD_SHARED = 4
PRICE_Q = _text_array(PRICES)
SUFFIX_Q = _text_array(SUFFIXES)

# Surfaces: every noun (or ambiguous head with or without context) a query can be built around.
NC = len(CONCEPTS)
_surf_text: list[str] = []
_surf_concept: list[int] = []
_surf_cat: list[int] = []
_surf_held: list[bool] = []
_surf_within: list[float] = []  # weight within its concept (or within the ambiguous block)
_surf_colour_ok: list[bool] = []

for _ci, _concept in enumerate(CONCEPTS):
    for _rank, _noun in enumerate(_concept.nouns):
        _surf_text.append(_noun)
        _surf_concept.append(_ci)
        _surf_cat.append(_concept.cat)
        _surf_held.append(False)
        _surf_within.append(1.0 / (_rank + 1) ** 0.8)
        _surf_colour_ok.append(_concept.colour)
    for _noun in _concept.held:
        _surf_text.append(_noun)
        _surf_concept.append(_ci)
        _surf_cat.append(_concept.cat)
        _surf_held.append(True)
        _surf_within.append(HELD_NOUN_WEIGHT)
        _surf_colour_ok.append(_concept.colour)

_amb_total = sum(h[1] for h in AMBIGUOUS)
for _head, _freq, _colour_ok, _senses in AMBIGUOUS:
    for _cat, (_prior, _contexts) in _senses.items():
        mass = _freq / _amb_total * _prior
        _surf_text.append(_head)  # bare head: no deciding context
        _surf_concept.append(-1)
        _surf_cat.append(_cat)
        _surf_held.append(False)
        _surf_within.append(mass * P_BARE)
        _surf_colour_ok.append(_colour_ok)
        for _ctx in _contexts:
            _surf_text.append(_ctx.format(_head))
            _surf_concept.append(-1)
            _surf_cat.append(_cat)
            _surf_held.append(False)
            _surf_within.append(mass * (1 - P_BARE) / len(_contexts))
            _surf_colour_ok.append(_colour_ok)

SURF_TEXT = _text_array(_surf_text)
SURF_TITLE = _text_array([t.title() for t in _surf_text])
SURF_CONCEPT = np.asarray(_surf_concept, dtype=np.int64)
SURF_CAT = np.asarray(_surf_cat, dtype=np.int64)
_SURF_HELD = np.asarray(_surf_held, dtype=bool)
_SURF_WITHIN = np.asarray(_surf_within, dtype=np.float64)
SURF_COLOUR_OK = np.asarray(_surf_colour_ok, dtype=bool)

# Per-concept lookups (index NC is a dummy "no concept" row for ambiguous surfaces).
C_CAT = np.asarray([c.cat for c in CONCEPTS] + [0], dtype=np.int64)
C_SIZE_KIND = np.asarray(
    [SIZE_VARIANTS.kind_ids[c.size] if c.size else -1 for c in CONCEPTS] + [-1], dtype=np.int64
)
C_GENDER_SET = np.asarray(
    [GENDER_VARIANTS.kind_ids[str(c.genders)] if c.genders else -1 for c in CONCEPTS] + [-1], dtype=np.int64
)
C_BRAND_GROUP = np.asarray([_BRAND_GROUP_IDS[c.brands] for c in CONCEPTS] + [-1], dtype=np.int64)
C_HAS_MODS = np.asarray([bool(c.mods) for c in CONCEPTS] + [False], dtype=bool)
C_COLOUR = np.asarray([c.colour for c in CONCEPTS] + [False], dtype=bool)
C_LOOSE = np.asarray([not c.titles for c in CONCEPTS] + [False], dtype=bool)
CAT_CONCEPTS = _Groups([[i for i, c in enumerate(CONCEPTS) if c.cat == k] for k in range(4)])
# Visible nouns of each concept (loose products: the title names one of them).
C_NOUNS = _Groups(
    [[i for i in range(len(_surf_text)) if _surf_concept[i] == ci and not _surf_held[i]] for ci in range(NC)]
)


def _consecutive(lengths: list[int]) -> _Groups:
    """Groups 0..k-1 of consecutive integers with the given sizes."""
    starts = np.cumsum([0, *lengths]).tolist()
    return _Groups([list(range(starts[i], starts[i + 1])) for i in range(len(lengths))])


C_TITLES = _consecutive([len(c.titles) for c in CONCEPTS])
TITLE_NOUN = _text_array([t for c in CONCEPTS for t in c.titles])
C_DESC = _consecutive([len(c.desc) for c in CONCEPTS])
TITLE_DESC = _text_array([d for c in CONCEPTS for d in c.desc])
STYLE_NAMES = _text_array(
    ["Classic", "Essential", "Revolution", "Air", "Ultra", "Everyday", "Heritage", "Signature", "Original", "Pro"]
)  # fmt: skip

# Word orders over the slots (brand, gender, mod, mod2, colour, noun, size, price, suffix).
ORDERS: list[tuple[int, ...]] = [
    (0, 1, 2, 3, 4, 5, 6, 7, 8),  # sony wireless black headphones under 50
    (1, 4, 2, 3, 0, 5, 6, 7, 8),  # womens red leather ugg boots size 8
    (5, 0, 1, 2, 3, 4, 6, 7, 8),  # headphones sony wireless black
    (0, 5, 1, 4, 2, 3, 6, 7, 8),  # nike running shoes womens red size 8
    (7, 0, 1, 2, 3, 4, 5, 6, 8),  # under 50 sony headphones
    (2, 3, 4, 5, 0, 1, 6, 8, 7),  # wireless black headphones sony under 50
    (4, 5, 1, 2, 3, 6, 0, 7, 8),  # black boots womens leather size 8 ugg
]
ORDER_P = np.asarray([0.42, 0.12, 0.12, 0.1, 0.08, 0.08, 0.08])


def _surface_weights(include_heldout: bool, include_ambiguous: bool) -> np.ndarray:
    """Probability of each surface: every category gets 1/4 of the mass."""
    w = np.zeros(SURF_TEXT.shape[0] - 1, dtype=np.float64)
    amb = SURF_CONCEPT < 0
    amb_mass = np.zeros(4)
    if include_ambiguous:
        w[amb] = P_AMBIGUOUS * _SURF_WITHIN[amb] / _SURF_WITHIN[amb].sum()
        np.add.at(amb_mass, SURF_CAT[amb], w[amb])
    for k in range(4):
        members = [i for i, c in enumerate(CONCEPTS) if c.cat == k]
        cw = np.asarray([CONCEPTS[i].weight for i in members])
        cw = (0.25 - amb_mass[k]) * cw / cw.sum()
        for ci, mass in zip(members, cw, strict=True):
            sel = SURF_CONCEPT == ci
            if not include_heldout:
                sel &= ~_SURF_HELD
            w[sel] = mass * _SURF_WITHIN[sel] / _SURF_WITHIN[sel].sum()
    return w / w.sum()


WEIGHTS = {
    (held, amb): _surface_weights(held, amb) for held in (False, True) for amb in (False, True)
}  # fmt: skip


def _check_vocabulary() -> None:
    """Held-out nouns must not occur as words anywhere a train query or any title could use."""
    held = set(HELDOUT_NOUNS)
    visible: set[str] = set()
    texts = [t for t, h in zip(_surf_text, _surf_held, strict=True) if not h]
    texts += _MOD_WORDS + PRICES + SUFFIXES + _BRAND_NAMES + list(TITLE_NOUN[:-1]) + list(TITLE_DESC[:-1])
    texts += (
        list(BRAND_T[:-1])
        + list(COLOUR_VARIANTS.query[:-1])
        + list(SIZE_VARIANTS.query[:-1])
        + list(GENDER_VARIANTS.query[:-1])
    )
    for t in texts:
        visible.update(t.lower().replace(",", " ").split())
    clash = held & visible
    if clash:  # pragma: no cover - a vocabulary edit broke the design
        raise AssertionError(f"held-out nouns also used elsewhere: {sorted(clash)}")


_check_vocabulary()
