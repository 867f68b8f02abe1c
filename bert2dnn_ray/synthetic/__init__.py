"""Deterministic synthetic e-commerce data: search queries (and query/title pairs) with gold labels.

Used by ``make smoke``, the tests and the benchmarks, so nothing is downloaded and no data is shipped.

Two tasks:

* ``query_category``: one ``text`` column (a search query such as ``"wireless noise cancelling
  headphones under 50"``) and a 4-way ``label`` (electronics, fashion, home, grocery).
* ``query_title``: ``query`` and ``title`` columns and a binary ``label`` (1 = the product title is
  relevant to the query: same product type and compatible brand, colour, size and gender).

Queries are assembled from slots (brand, gender, modifiers, colour, product noun, size, price,
suffix) in a few word orders, with typos at a small rate. What keeps the task from being trivial:

* **Ambiguous heads.** ``apple``, ``case``, ``mouse``, ``watch``, ``glasses``, ``bag`` ... belong to
  two or more categories; usually a context word decides (``apple watch`` vs ``honeycrisp apple``,
  ``phone case`` vs ``case of water``) but about a third of the time the head comes with neutral
  words only (``apple``, ``black watch under 100``) and the gold label is a coin flip weighted by
  the sense prior: irreducible error for any model.
* **Shared vocabulary.** Colours, price phrases, sizes (``large``, ``12 inch``, ``6 pack``), brands
  (``samsung``, ``amazon basics``) and words such as ``coffee``, ``tea``, ``tv``, ``shoe``, ``gaming``
  occur in several categories.
* **Held-out nouns** (:data:`HELDOUT_NOUNS`): a few popular synonyms (``earbuds``, ``sofa``,
  ``sneakers``, ``yogurt`` ...) occur only in the test and unlabeled splits, never in train or dev.
  A student that sees only the gold train labels has never seen these words; a pretrained teacher
  knows that ``sofa`` is a ``couch``, so distilling through the unlabeled transfer set teaches the
  student the new words.
* **Label noise** (``label_noise``) on every labeled split: a gold label is replaced by a random other
  class, as human annotation would be.

The unlabeled split comes from the same generator as test (held-out nouns included) and has the
repeat structure of a query log: 15% of its rows are copies of a pool of popular, mostly short
queries drawn with Zipf weights, on top of the natural collisions of head queries (``tv``,
``sofa``), so that about a third of 20k rows repeat an earlier row (more at larger sizes) and
de-duplication matters. Labeled splits have only the natural collisions.

Every split has its own random stream derived from ``(seed, split)``, so changing one split's size
does not change the others, and the same config always gives byte-identical tables.

The package: :mod:`.config` (:class:`SyntheticConfig`, the tasks and their label names; light),
:mod:`.concepts` (the product concepts) and :mod:`.vocabulary` (the other word lists; pure data),
:mod:`.compiled` (both as numpy lookup tables, built at its import), :mod:`.generator`
(:func:`generate`, :func:`write`) and :mod:`.stage` (the pipeline's data stage). Importing the
package loads only the config; the vocabulary and the generator are imported on first use of a
name from them.
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import LABEL_NAMES, SPLITS, SyntheticConfig, Task, label_names

# Names imported on first use, by the module that holds them (importing the generator builds its
# tables). Listed, not guessed: ``from . import stage`` probes the package for ``stage`` first.
_LAZY: dict[str, str] = {
    "generate": "generator",
    "write": "generator",
    **dict.fromkeys(
        (
            "AMBIGUOUS",
            "BRAND_GROUPS",
            "CATEGORY_MODS",
            "COLOURS",
            "GENDERS",
            "HELDOUT_NOUNS",
            "PRICES",
            "SHARED_MODS",
            "SIZE_KINDS",
            "SUFFIXES",
        ),
        "vocabulary",
    ),
    **dict.fromkeys(("CONCEPTS", "Concept"), "concepts"),
}

__all__ = ["LABEL_NAMES", "SPLITS", "SyntheticConfig", "Task", "label_names", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
