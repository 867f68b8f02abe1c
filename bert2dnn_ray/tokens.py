"""The featurizer's tokens: exactly ``tokenize(normalize(text))`` (:mod:`bert2dnn_ray.text`), with fast
paths for plain text that are equivalent by construction, and re-verified against text.py on probe
strings when this module is imported (:data:`FAST_TOKENS_OK`; the reference is used if they disagree).
:func:`batch_tokens` tokenises a whole batch at once (numpy for printable ASCII)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np

from .errors import DataError
from .text import normalize, tokenize


def tokens_reference(text: str, lowercase: bool) -> list[str]:
    return tokenize(normalize(text), lowercase=lowercase)


def tokens_fast(text: str, lowercase: bool) -> list[str]:
    """``tokenize(normalize(text), lowercase)``, faster.

    * Printable text (no control characters) that is already NFKC needs no ``normalize``: the only
      thing left for it to do is collapse whitespace, which cannot change the tokens. (Printable
      ASCII is always NFKC.)
    * No token spans whitespace and ``str.split()`` splits on exactly the characters the regex's
      ``\\s`` matches, so the text can be lowercased whole (as ``tokenize`` does) and cut into
      whitespace-free chunks first; a chunk that ``str.isalnum()`` is one ``\\w+`` token, the
      rest go through ``tokenize``.
    """
    if text.isascii():
        if text.replace(" ", "").isalnum():  # letters, digits and spaces only
            return text.lower().split() if lowercase else text.split()
        if not text.isprintable():
            text = normalize(text)
    elif not (text.isprintable() and unicodedata.is_normalized("NFKC", text)):
        text = normalize(text)
    if lowercase:
        text = text.lower()
    out: list[str] = []
    for chunk in text.split():
        if chunk.isalnum():
            out.append(chunk)
        else:
            out += _chunk_tokens(chunk)
    return out


# Tokens of whitespace-free chunks that are not plain letters/digits ("t-shirt", "women's", "!"):
# a pure function of the chunk, cached because the same few chunks recur constantly.
_CHUNKS: dict[str, tuple[str, ...]] = {}
_CHUNKS_MAX = 1 << 16


def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    got = _CHUNKS.get(chunk)
    if got is None:
        got = tuple(tokenize(chunk, lowercase=False))
        if len(_CHUNKS) >= _CHUNKS_MAX:
            _CHUNKS.clear()
        _CHUNKS[chunk] = got
    return got


_PROBES = (
    "",
    " ",
    "Hello World",
    "  iPhone 15  Pro max 256GB ",
    "women's t-shirt size-10",
    "a_b c__d",
    "rock'n'roll -- a-b- 'x' ,;:!?",
    "tab\tand\nnewline",
    "bell\x07char",
    "ＦＵＬＬ　ｗｉｄｔｈ ＡＢＣ１２３",
    "Straße ÇA Ω ΣΑΣ",
    "x\x1cy",
)


def _fast_path_ok() -> bool:
    return all(tokens_fast(p, lc) == tokens_reference(p, lc) for p in _PROBES for lc in (True, False))


FAST_TOKENS_OK = _fast_path_ok()


# ``tokens(text, lowercase)`` = ``tokenize(normalize(text), lowercase)``: the fast path where it is
# verified, else the reference (a plain alias: this is on the one-text serving path).
tokens = tokens_fast if FAST_TOKENS_OK else tokens_reference

# Byte classes for the whole-batch fast path: ASCII letters/digits; printable ASCII plus newline.
_ALNUM_BYTES = np.array([i < 128 and chr(i).isalnum() for i in range(256)], dtype=bool)
_ALLOWED_BYTES = np.array([i == 10 or 32 <= i < 127 for i in range(256)], dtype=bool)


def batch_tokens(texts: Sequence[str], lowercase: bool, what: str) -> tuple[list[str], np.ndarray]:
    """Tokens of all texts, flat, and the token count of each text."""
    if FAST_TOKENS_OK:
        got = _batch_tokens_ascii(texts, lowercase)
        if got is not None:
            return got
    tok = tokens
    lower = lowercase
    flat: list[str] = []
    lens: list[int] = []
    try:
        for x in texts:
            t = tok(x, lower)
            flat.extend(t)
            lens.append(len(t))
    except (AttributeError, TypeError):
        i = len(lens)
        raise DataError(f"featurizer: {what}[{i}] must be a string, got {type(texts[i]).__name__}") from None
    return flat, np.array(lens, dtype=np.int64)


def _batch_tokens_ascii(texts: Sequence[str], lowercase: bool) -> tuple[list[str], np.ndarray] | None:
    """Whole-batch ``tokens_fast`` when every text is printable ASCII (else None).

    The texts are joined with newlines (printable text has none), lowercased and split on
    whitespace once; numpy finds which text each chunk belongs to and which chunks are not
    plain letters/digits, and only those few are tokenised in Python.
    """
    n = len(texts)
    try:
        big = "\n".join(texts)
    except TypeError:
        return None
    if not big.isascii():
        return None
    b = np.frombuffer(big.encode("ascii"), dtype=np.uint8)
    if not _ALLOWED_BYTES[b].all():
        return None
    sep = b == 10
    if int(np.count_nonzero(sep)) != n - 1:
        return None
    if lowercase:
        big = big.lower()
    chunks = big.split()
    solid = ~(sep | (b == 32))
    start = solid.copy()
    start[1:] &= ~solid[:-1]
    text_of_chunk = np.cumsum(sep)[start]
    odd = (np.cumsum(start) - 1)[solid & ~_ALNUM_BYTES[b]]  # chunks with punctuation
    if len(odd) == 0:
        return chunks, np.bincount(text_of_chunk, minlength=n).astype(np.int64)
    odd = odd[np.concatenate(([True], odd[1:] != odd[:-1]))].tolist()  # sorted already
    flat: list[str] = []
    odd_counts = []
    prev = 0
    for i in odd:
        flat += chunks[prev:i]
        got = _chunk_tokens(chunks[i])
        flat += got
        odd_counts.append(len(got))
        prev = i + 1
    flat += chunks[prev:]
    per_chunk = np.ones(len(chunks), dtype=np.int64)
    per_chunk[odd] = odd_counts
    lens = np.bincount(text_of_chunk, weights=per_chunk, minlength=n).astype(np.int64)
    return flat, lens
