"""Text normalisation and word tokenisation, shared by every stage.

Teachers see ``normalize(text)``; the student's featurizer sees ``tokenize(normalize(text))``.
There is exactly one implementation of each, here.
"""

from __future__ import annotations

import re
import unicodedata

_WS = re.compile(r"\s+", re.UNICODE)
# Control characters (Cc) other than whitespace are dropped: they carry no meaning and break tokenizers.
_CTRL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]")
# Words (letters/digits/underscore, with inner apostrophes or hyphens) and single punctuation marks.
_TOKEN = re.compile(r"\w+(?:['\-]\w+)*|[^\w\s]", re.UNICODE)


def normalize(text: str) -> str:
    """NFKC-normalise, drop control characters and collapse whitespace. Case is kept."""
    text = unicodedata.normalize("NFKC", text)
    text = _CTRL.sub("", text)
    return _WS.sub(" ", text).strip()


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Split normalised text into word and punctuation tokens."""
    if lowercase:
        text = text.lower()
    return _TOKEN.findall(text)


# Vectorised twin of ``normalize`` for Arrow arrays (the labeling hot path: no per-row Python).
# Equivalent on NFKC-normalised text: after NFKC and control-character removal, Python's ``\s``
# matches exactly tab, LF, CR and the Unicode separators (category Z). tests/test_text.py checks
# the two agree.
_ARROW_CTRL = r"[\x{0}-\x{8}\x{b}\x{c}\x{e}-\x{1f}\x{7f}-\x{9f}]"
_ARROW_WS = r"[\t\n\r\p{Z}]+"


def normalize_array(arr):
    """``normalize`` applied to every string of a pyarrow string array (nulls stay null)."""
    import pyarrow.compute as pc

    arr = pc.utf8_normalize(arr, form="NFKC")
    arr = pc.replace_substring_regex(arr, pattern=_ARROW_CTRL, replacement="")
    arr = pc.replace_substring_regex(arr, pattern=_ARROW_WS, replacement=" ")
    return pc.utf8_trim(arr, characters=" ")
