"""Text normalisation and tokenisation; the Arrow-vectorised ``normalize_array`` agrees with ``normalize``."""

from __future__ import annotations

import random
import unicodedata

import pyarrow as pa
import pytest

from bert2dnn_ray.text import normalize, normalize_array, tokenize


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  hello   world  ", "hello world"),
        ("a\u00a0b", "a b"),  # NBSP
        ("a\u3000b", "a b"),  # ideographic space
        ("a\u2028b\u2029c", "a b c"),  # line / paragraph separators
        ("tab\tnew\nline\r\nend", "tab new line end"),
        ("ｆｕｌｌ－ｗｉｄｔｈ　ＡＢＣ１２３！", "full-width ABC123!"),
        ("caf\u0065\u0301", "café"),  # combining acute composes (NFKC)
        ("\ufb01ne", "fine"),  # ligature
        ("x\u00b2 \u2460", "x2 1"),  # superscript, circled digit
        ("bell\x07 esc\x1b del\x7f c1\x85", "bell esc del c1"),  # control characters dropped
        ("a \x00 b", "a b"),  # dropping a control char must not leave a double space
        ("zero\u200bwidth", "zero\u200bwidth"),  # zero-width space is not whitespace: kept
        ("Keep CASE", "Keep CASE"),
        ("\U0001f600 emoji \U0001f44d\U0001f3fd", "\U0001f600 emoji \U0001f44d\U0001f3fd"),
        ("", ""),
        (" \t\u00a0\u3000 ", ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Red Running-Shoes, size 9!", ["red", "running-shoes", ",", "size", "9", "!"]),
        ("it's a kid's toy", ["it's", "a", "kid's", "toy"]),
        ("'quoted' -dash- end-", ["'", "quoted", "'", "-", "dash", "-", "end", "-"]),
        ("$9.99 100%", ["$", "9", ".", "99", "100", "%"]),
        ("Café ÜBER straße", ["café", "über", "straße"]),
        ("東京 タワー", ["東京", "タワー"]),
        ("a_b c__d", ["a_b", "c__d"]),
        ("", []),
    ],
)
def test_tokenize(text, expected):
    assert tokenize(text) == expected


def test_tokenize_case():
    assert tokenize("Hello World", lowercase=False) == ["Hello", "World"]
    assert tokenize(normalize("ＨＥＬＬＯ\u00a0wörld")) == ["hello", "wörld"]


# Characters the two implementations must treat alike: every Unicode space and separator,
# control characters (C0, DEL, C1), zero-width and format characters, combining marks,
# compatibility forms (full-width, ligatures, super/subscripts, circled), emoji and modifiers.
SPECIAL = (
    "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2007\u200a\u2028\u2029\u202f\u205f\u3000 "
    "\x00\x01\x07\x08\x0e\x1b\x7f\x80\x9f"
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
    "\u0301\u0308\u0327\u0323\u20dd\u3099"
    "\uff21\uff41\uff10\uff01\uff5e\uff61\uffe5\ufb01\u00b2\u2082\u2460\u00bd\u2126\u212b\u1e9b\u3300\u33c0"
    "\U0001f600\U0001f44d\U0001f3fd\U0001f1ef\U0001f1f5\u2764\ufe0f"
    "aZ9_-'.,!?\u00e9\u00df\u0131\u0130\u03a3\u0628\u05d0\u0e01\uac00\u1100\u1161\u11a8"
)


def _assigned_chars() -> list[str]:
    # Characters assigned in Python's Unicode database. Code points that Python does not know yet
    # may be assigned (and normalised) in the newer Unicode tables of Arrow's utf8proc; that is a
    # version difference, not a difference in the two implementations. Planes 15-16 (private use
    # only) are left out so that they do not dominate the sample.
    return [c for c in map(chr, range(0xF0000)) if unicodedata.category(c) not in ("Cn", "Cs")]


def test_normalize_array_agrees_with_normalize_on_random_unicode():
    rng = random.Random(1234)
    assigned = _assigned_chars()
    special = list(SPECIAL)
    texts: list[str | None] = []
    for _ in range(20000):
        n = rng.randrange(0, 14)
        mix = rng.random()
        texts.append(
            "".join(rng.choice(special) if rng.random() < mix else rng.choice(assigned) for _ in range(n))
        )
    texts += [None, "", " ", None]
    texts += [c for c in SPECIAL] + [f" x{c}y " for c in SPECIAL]
    got = normalize_array(pa.array(texts, pa.string())).to_pylist()
    expected = [None if t is None else normalize(t) for t in texts]
    diffs = [(t, e, g) for t, e, g in zip(texts, expected, got) if e != g]
    assert not diffs, f"{len(diffs)} disagreements, e.g. {[(ascii(t), e, g) for t, e, g in diffs[:3]]}"
    assert got[-len(SPECIAL) * 2 - 4] is None  # nulls stay null
    assert sum(g is None for g in got) == 2


def test_normalize_array_keeps_type_length_and_chunks():
    arr = pa.chunked_array([["  a\u00a0 b ", None], ["ｘ\u3000ｙ"]])
    out = normalize_array(arr)
    assert isinstance(out, pa.ChunkedArray) and out.type == pa.string()
    assert out.to_pylist() == ["a b", None, "x y"]
    assert normalize_array(pa.array([], pa.string())).to_pylist() == []
