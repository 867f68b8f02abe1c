"""Featurizer: stable hashed ids, batch == single, namespaces, n-grams, caps, fast paths."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from bert2dnn_ray.config import build
from bert2dnn_ray.errors import ConfigError, DataError
from bert2dnn_ray.featurizer import Featurizer, FeaturizerConfig
from bert2dnn_ray.text import normalize, tokenize
from bert2dnn_ray.tokens import batch_tokens, tokens_fast

# Mixed alphabet: ASCII words and punctuation, the separator characters the batch fast path uses,
# whitespace of all kinds, control characters, compatibility forms, combining marks, case oddities.
_ALPHABET = list("abcxyzAZ019 '-_.,!?^$<>|\"#") + [
    "\t",
    "\n",
    "\r",
    "\x0b",
    "\x1c",
    "\x85",
    "\xa0",
    "\u2028",
    "\u3000",
    "\x00",
    "\x07",
    "\x7f",
    "é",
    "e\u0301",
    "Σ",
    "ß",
    "ﬁ",
    "Ａ",
    "İ",
    "①",
    "中文",
    "😀",
    "\u200b",
    "ΟΔΟΣ",
]
_WORDS = ["cheap", "red", "iphone", "case", "nike", "shoes", "men's", "t-shirt", "size", "10", "a", "the"]


def _random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 3 == 0:  # query-like ASCII
            out.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 9))))
        else:
            out.append("".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 24))))
    return out + ["", " ", "   \t\n", "\x00\x07", "^ $", "!!!", "a", "Hello, World!"]


def _bags(ids: np.ndarray, offsets: np.ndarray) -> list[list[int]]:
    ends = list(offsets[1:]) + [len(ids)]
    return [ids[s:e].tolist() for s, e in zip(offsets, ends)]


CONFIGS = [
    {},
    {"boundary_tokens": False},
    {"word_ngrams": [1, 2, 3], "char_ngrams": [3, 4]},
    {"word_ngrams": [], "char_ngrams": [2]},
    {"word_ngrams": [1]},
    {"word_ngrams": [2, 3], "boundary_tokens": False, "lowercase": False, "max_features": 3},
    {"pair_cross": True, "max_features": 7},
    {"pair_cross": True, "char_ngrams": [3], "max_features": 20, "max_cross_features": 5},
    {"num_buckets": 16, "hash_seed": 5, "max_features": 1, "pair_cross": True},
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=[json.dumps(c, sort_keys=True) for c in CONFIGS])
def test_batch_and_single_give_identical_ids(cfg):
    f = Featurizer(FeaturizerConfig(**cfg))
    texts = _random_texts(240, seed=1)
    pairs = _random_texts(240, seed=2)
    for p in (None, pairs):
        ids, offsets = f.batch(texts, p)
        assert ids.dtype == np.int64 and offsets.dtype == np.int64
        assert len(offsets) == len(texts) and offsets[0] == 0
        bags = _bags(ids, offsets)
        for i, t in enumerate(texts):
            single = f.ids(t, None if p is None else p[i])
            assert single.dtype == np.int64
            assert single.tolist() == bags[i], (cfg, t, None if p is None else p[i])
            assert 1 <= len(single) <= f.config.max_features
        assert ids.min() >= 0 and ids.max() < f.num_buckets


@pytest.mark.parametrize("lowercase", [True, False])
def test_ascii_batch_fast_path_matches_single(lowercase):
    # Batches of printable ASCII take the whole-batch path; a batch with any other text does not.
    f = Featurizer(FeaturizerConfig(lowercase=lowercase, char_ngrams=[3]))
    rng = random.Random(3)
    ascii_alpha = list("abcXYZ09 '-_.,!?|^$")
    plain = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 8))) for _ in range(300)]
    punct = ["".join(rng.choice(ascii_alpha) for _ in range(rng.randint(0, 20))) for _ in range(300)]
    for batch in (plain, punct, plain + punct, punct + ["tab\there"], ["Only ONE"], [""], ["", "", ""]):
        bags = _bags(*f.batch(batch))
        assert bags == [f.ids(t).tolist() for t in batch]


def test_tokens_are_exactly_text_module_tokens():
    rng = random.Random(4)
    samples = _random_texts(2000, seed=5)
    samples += [chr(cp) + " x" + chr(cp) + "Σ " + chr(cp) for cp in range(0, 0x3100, 3)]
    samples += ["".join(rng.choice(_ALPHABET) for _ in range(8)) for _ in range(2000)]
    f_lower = Featurizer(FeaturizerConfig(lowercase=True))
    f_case = Featurizer(FeaturizerConfig(lowercase=False))
    for s in samples:
        assert tokens_fast(s, True) == tokenize(normalize(s), lowercase=True), repr(s)
        assert tokens_fast(s, False) == tokenize(normalize(s), lowercase=False), repr(s)
        assert f_lower.tokens(s) == tokenize(normalize(s))
    flat, lens = batch_tokens(samples[:500], f_case.config.lowercase, "texts")
    assert lens.tolist() == [len(tokenize(normalize(s), lowercase=False)) for s in samples[:500]]


def test_ids_are_pinned():
    # Changing these breaks every saved student: bump the featurizer version instead.
    f = Featurizer(FeaturizerConfig(num_buckets=262144))  # 2^18, the default
    assert f.ids("Cheap red iPhone-15 case!").tolist() == [
        138949,
        162322,
        210578,
        15938,
        145328,
        65440,
        12278,
        184850,
        19192,
        733,
        226955,
    ]
    g = Featurizer(FeaturizerConfig(num_buckets=1000, char_ngrams=[3], pair_cross=True, hash_seed=7))
    assert g.ids("red shoes", pair="Nike running").tolist() == [
        958, 998, 951, 823, 483, 139, 622, 122, 2, 155, 999, 661, 132, 826, 732, 862, 173,
        472, 879, 123, 615, 304, 675, 64, 939, 814, 162, 590, 172, 96, 657, 830, 7,
    ]  # fmt: skip
    assert f.ids("").tolist() == [23385]  # the "^ $" bigram
    no_bounds = FeaturizerConfig(num_buckets=262144, boundary_tokens=False)
    assert Featurizer(no_bounds).ids("").tolist() == [41690]  # <empty>


def test_ids_follow_the_documented_formula():
    m64 = (1 << 64) - 1

    def key(s: str) -> int:
        return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")

    def fmix(x: int) -> int:
        x ^= x >> 33
        x = (x * 0xFF51AFD7ED558CCD) & m64
        x ^= x >> 33
        x = (x * 0xC4CEB9FE1A85EC53) & m64
        return x ^ (x >> 33)

    p = 0x9E3779B97F4A7C15
    nb = 262144  # the default
    uni = key("bert2dnn-featurizer/v1/a/w1/0")
    big = key("bert2dnn-featurizer/v1/a/w2/0")
    red, shoes = key("red"), key("shoes")
    bos, eos = key("\x00^"), key("\x00$")
    expected = [
        fmix((uni * p + red) & m64) % nb,
        fmix(((big * p + bos) * p + red) & m64) % nb,
        fmix((uni * p + shoes) & m64) % nb,
        fmix(((big * p + red) * p + shoes) & m64) % nb,
        fmix(((big * p + shoes) * p + eos) & m64) % nb,
    ]
    assert Featurizer().ids("Red  SHOES").tolist() == expected


def test_ids_are_stable_across_processes():
    texts = ["Cheap red iPhone-15 case!", "Straße über 10€", "", "women's t-shirt"]
    f = Featurizer(FeaturizerConfig(char_ngrams=[3, 4], pair_cross=True))
    here = [f.ids(t, pair="nike shoes").tolist() for t in texts]
    code = (
        "import json, sys\n"
        "from bert2dnn_ray.featurizer import Featurizer, FeaturizerConfig\n"
        "f = Featurizer(FeaturizerConfig(char_ngrams=[3, 4], pair_cross=True))\n"
        "texts = json.loads(sys.argv[1])\n"
        "print(json.dumps([f.ids(t, pair='nike shoes').tolist() for t in texts]))\n"
    )
    for seed in ("1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(texts)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert json.loads(out.stdout) == here


def test_interleaved_unigrams_and_boundary_bigrams():
    uni = Featurizer(FeaturizerConfig(word_ngrams=[1])).ids("a b c").tolist()
    bi = Featurizer(FeaturizerConfig(word_ngrams=[2])).ids("a b c").tolist()
    both = Featurizer(FeaturizerConfig(word_ngrams=[1, 2])).ids("a b c").tolist()
    assert len(uni) == 3 and len(bi) == 4  # ^a ab bc c$
    assert both == [uni[0], bi[0], uni[1], bi[1], uni[2], bi[2], bi[3]]
    no_bound = Featurizer(FeaturizerConfig(word_ngrams=[2], boundary_tokens=False)).ids("a b c")
    assert len(no_bound) == 2 and set(no_bound.tolist()) < set(bi)
    # "^" and "$" as real tokens are not the boundary markers.
    assert Featurizer().ids("^ $").tolist() != Featurizer().ids("").tolist()


def test_pair_text_lives_in_its_own_namespace():
    f = Featurizer()
    alone = f.ids("red shoes").tolist()
    as_pair = f.ids("", pair="red shoes").tolist()
    empty_first = f.ids("").tolist()
    assert as_pair[: len(empty_first)] == empty_first
    second = as_pair[len(empty_first) :]
    assert len(second) == len(alone) and not set(second) & set(alone)
    # Swapping the texts changes the bag.
    assert sorted(f.ids("a", pair="b")) != sorted(f.ids("b", pair="a"))
    # Pair with an empty second text still differs from no pair at all.
    assert f.ids("red shoes", pair="").tolist() != alone


def test_char_ngrams_add_ids_and_share_them_across_typos():
    words = Featurizer(FeaturizerConfig())
    chars = Featurizer(FeaturizerConfig(char_ngrams=[3, 4]))
    base = words.ids("iphone case").tolist()
    more = chars.ids("iphone case").tolist()
    assert more[: len(base)] == base  # word features first, then char n-grams
    # "<iphone>" has 6 trigrams + 5 four-grams, "<case>" 4 + 3.
    assert len(more) == len(base) + 11 + 7
    typo = chars.ids("iphnoe case").tolist()
    assert len(set(more[len(base) :]) & set(typo[len(base) :])) >= 7
    # One-character tokens get no char n-grams; a text of only those still gets word features.
    assert chars.ids("a b").tolist() == words.ids("a b").tolist()
    only_chars = Featurizer(FeaturizerConfig(word_ngrams=[], char_ngrams=[3]))
    assert len(only_chars.ids("!")) == 1  # <empty>
    assert len(only_chars.ids("abc")) == 3  # <ab abc bc>


def test_cross_features_and_caps():
    plain = Featurizer(FeaturizerConfig())
    cross = Featurizer(FeaturizerConfig(pair_cross=True, max_cross_features=4))
    a = plain.ids("red shoes", pair="nike running shoes").tolist()
    b = cross.ids("red shoes", pair="nike running shoes").tolist()
    assert b[: len(a)] == a and len(b) == len(a) + 4  # 2 x 3 = 6 crosses, capped at 4
    roomy = Featurizer(FeaturizerConfig(pair_cross=True))
    assert len(roomy.ids("red shoes", pair="nike running shoes")) == len(a) + 6
    assert len(roomy.ids("", pair="nike")) == len(plain.ids("", pair="nike"))  # no tokens, no crosses

    capped = Featurizer(FeaturizerConfig(max_features=10))
    long_text = " ".join(f"w{i}" for i in range(50))
    assert capped.ids(long_text).tolist() == Featurizer().ids(long_text).tolist()[:10]
    # A long first text cannot crowd out a short second one (each gets half the budget if needed).
    pair_ids = capped.ids(long_text, pair="nike").tolist()
    tail = Featurizer().ids("", pair="nike").tolist()[1:]  # the second text's own features
    assert len(pair_ids) == 10 and pair_ids[-len(tail) :] == tail


def test_buckets_in_range_and_bags_never_empty():
    f = Featurizer(FeaturizerConfig(num_buckets=16, char_ngrams=[2, 3]))
    texts = _random_texts(300, seed=9)
    ids, offsets = f.batch(texts, texts[::-1])
    assert ids.min() >= 0 and ids.max() < 16
    assert np.all(np.diff(np.append(offsets, len(ids))) >= 1)
    ids, offsets = Featurizer().batch(["", " ", "\x07"])
    assert offsets.tolist() == [0, 1, 2] and len(ids) == 3
    empty_ids, empty_offsets = Featurizer().batch([])
    assert empty_ids.shape == (0,) and empty_offsets.shape == (0,)


def test_embedding_bag_accepts_batches():
    f = Featurizer(FeaturizerConfig(num_buckets=1024))
    ids, offsets = f.batch(["cheap red case", "", "nike"])
    bag = torch.nn.EmbeddingBag(1024, 4, mode="sum")
    out = bag(torch.from_numpy(ids), torch.from_numpy(offsets))
    assert out.shape == (3, 4)


def test_case_seed_and_config_options():
    assert Featurizer().ids("Hello World").tolist() == Featurizer().ids("hello world").tolist()
    cased = Featurizer(FeaturizerConfig(lowercase=False))
    assert cased.ids("Hello").tolist() != cased.ids("hello").tolist()
    assert Featurizer(FeaturizerConfig(hash_seed=1)).ids("x").tolist() != Featurizer().ids("x").tolist()
    # Normalisation: full-width and NFKC forms hash like their plain equivalents.
    assert Featurizer().ids("ＡＢＣ １２３").tolist() == Featurizer().ids("abc 123").tolist()


def test_config_validation():
    assert FeaturizerConfig(word_ngrams=[2, 1, 2]).word_ngrams == [1, 2]
    for bad in (
        {"num_buckets": 8},
        {"word_ngrams": [0]},
        {"word_ngrams": [6]},
        {"char_ngrams": [0]},
        {"word_ngrams": [], "char_ngrams": []},
        {"max_features": 0},
        {"hash_seed": -1},
        {"num_bucket": 100},
    ):
        with pytest.raises(ConfigError):
            build(FeaturizerConfig, bad, source="featurizer")
    d = FeaturizerConfig(char_ngrams=[3]).model_dump()
    assert Featurizer.from_dict(d).config == FeaturizerConfig(char_ngrams=[3])
    assert Featurizer(FeaturizerConfig(char_ngrams=[3])).to_dict() == FeaturizerConfig(
        char_ngrams=[3]
    ).model_dump(mode="json")


def test_bad_inputs_raise_data_error():
    f = Featurizer()
    with pytest.raises(DataError, match=r"texts\[1\]"):
        f.batch(["ok", None])
    with pytest.raises(DataError, match="pairs"):
        f.batch(["ok"], [b"bytes"])
    with pytest.raises(DataError, match="counts must match"):
        f.batch(["a", "b"], ["c"])
    with pytest.raises(DataError, match="text must be a string"):
        f.ids(None)
    with pytest.raises(DataError, match="pair must be a string"):
        f.ids("a", pair=3)


def test_pickle_carries_config_not_caches():
    f = Featurizer(FeaturizerConfig(char_ngrams=[3]))
    before = f.ids("cheap red case", pair="red").tolist()
    f.batch(_random_texts(500, seed=11))
    blob = pickle.dumps(f)
    assert len(blob) < 2000
    g = pickle.loads(blob)
    assert g.config == f.config
    assert g.ids("cheap red case", pair="red").tolist() == before


def test_small_cache_still_correct():
    f = Featurizer(FeaturizerConfig(char_ngrams=[3]), cache_size=16)
    ref = Featurizer(FeaturizerConfig(char_ngrams=[3]))
    texts = _random_texts(600, seed=12)
    assert _bags(*f.batch(texts)) == [ref.ids(t).tolist() for t in texts]
    assert [f.ids(t).tolist() for t in texts] == [ref.ids(t).tolist() for t in texts]
    assert len(f._key) <= 1024 and len(f._uni["a"]) <= 1024  # bounded: cleared when full
