"""Transfer-set augmentation: perturbed copies of texts, for the teachers to soft-label.

A student learns what a word is worth from texts that differ by that word. When the unlabeled set
is small, or unlike the test domain, perturbed copies of in-domain texts (SST-2's training
sentences, logged queries) add exactly that signal. The recipe is Tang et al. 2019 ("Distilling
task-specific knowledge from BERT into simple neural networks"), without POS tags: each word of a
text is dropped with ``mask_prob`` or replaced, with ``replace_prob``, by a word drawn from the
input's word frequencies; then, with ``ngram_prob``, only a random 1..``max_ngram``-word span is
kept. Words are the whitespace-separated tokens of the normalised text, so a text keeps its own
tokenisation and case.

Every input row yields ``variants`` candidates. A candidate is not written when it is empty, equal
to its source text, repeated within the row's candidates, or one of the ``exclude`` texts (dev and
test sets, whose labels must not leak); each reason is counted in ``manifest.json``. Duplicates
across rows are left to the labeling stage (``dedup: distinct``). Rows whose text is null or empty
yield nothing and are counted too.

The input is read in two passes, one file in memory at a time (the word counts over the first
``vocab_rows`` rows, then the copies), so a large input split into files fits on the driver; the
output is the same however the input is split.

Output: ``<output_dir>/data/part-*.parquet`` with ``id`` (``<source id>#<k>``), the text column
and the pair column (copied unchanged) when there is one; input of ``bert2dnn label``.
"""

from __future__ import annotations

import collections
import itertools
import random
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import Field, model_validator

from . import io, tables
from .config import Strict
from .data import Columns
from .errors import ConfigError, DataError
from .progress import log
from .rundir import mark_done, skip_if_done
from .text import normalize


class AugmentConfig(Strict):
    input: str | None = Field(None, description="texts to augment: file, directory, glob or URI")
    columns: Columns = Field(Columns(), description="text (and pair, id) columns of input")
    output_dir: str | None = Field(None, description="where data/part-*.parquet and manifest.json go")
    variants: int = Field(5, ge=1, description="candidates generated per input row")
    mask_prob: float = Field(0.1, ge=0.0, le=1.0, description="drop each word with this probability")
    replace_prob: float = Field(
        0.1, ge=0.0, le=1.0, description="replace each word by one drawn from the input's word frequencies"
    )
    ngram_prob: float = Field(
        0.25, ge=0.0, le=1.0, description="then keep only a random n-gram (n=1..max_ngram)"
    )
    max_ngram: int = Field(5, ge=1)
    vocab_size: int = Field(50_000, ge=1, description="replacement words: the most frequent ones")
    vocab_rows: int = Field(1_000_000, ge=1, description="count word frequencies over the first N rows")
    exclude: list[str] = Field(
        default_factory=list, description="labeled sets (e.g. dev, test) whose texts are never written"
    )
    exclude_column: str | None = Field(
        None, description="text column of the exclude sets (default: columns.text)"
    )
    rows_per_file: int = Field(200_000, ge=1)
    seed: int = 0
    force: bool = Field(False, description="regenerate an output that is already complete")

    @model_validator(mode="after")
    def _check_probs(self) -> AugmentConfig:
        if self.mask_prob + self.replace_prob > 1.0:
            raise ValueError(
                f"mask_prob + replace_prob must be <= 1, got {self.mask_prob + self.replace_prob:g}"
            )
        return self


def _word_counts(cfg: AugmentConfig) -> tuple[list[str], list[int]]:
    """The replacement words (the most common in the first ``vocab_rows`` normalised texts) and
    their cumulative counts. Reads the input file by file, as far as ``vocab_rows`` goes."""
    col = cfg.columns.text
    counts: collections.Counter[str] = collections.Counter()
    seen = 0
    for _, table in tables.iter_tables(cfg.input, columns=[col], text_columns=[col]):
        for text in table[col].to_pylist()[: cfg.vocab_rows - seen]:
            seen += 1
            if text:
                counts.update(normalize(text).split(" "))
        if seen >= cfg.vocab_rows:
            break
    counts.pop("", None)
    words = counts.most_common(cfg.vocab_size)
    return [w for w, _ in words], list(itertools.accumulate(c for _, c in words))


def _excluded(cfg: AugmentConfig) -> set[str]:
    col = cfg.exclude_column or cfg.columns.text
    out: set[str] = set()
    for uri in cfg.exclude:
        table = tables.read_table(uri, columns=[col], text_columns=[col])
        out.update(normalize(t) for t in table[col].to_pylist() if t)
    return out


class _Perturber:
    def __init__(self, cfg: AugmentConfig, vocab: list[str], cum: list[int]):
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.vocab, self.cum = vocab, cum

    def _word(self) -> str:
        return self.rng.choices(self.vocab, cum_weights=self.cum)[0]

    def __call__(self, words: list[str]) -> str:
        cfg, rng = self.cfg, self.rng
        out = []
        for w in words:
            r = rng.random()
            if r < cfg.mask_prob:
                continue
            if r < cfg.mask_prob + cfg.replace_prob and self.cum:
                out.append(self._word())
            else:
                out.append(w)
        if len(out) > 1 and rng.random() < cfg.ngram_prob:
            n = rng.randint(1, min(cfg.max_ngram, len(out)))
            i = rng.randint(0, len(out) - n)
            out = out[i : i + n]
        return " ".join(out)


def run(cfg: AugmentConfig) -> dict[str, Any]:
    if not cfg.input:
        raise ConfigError("augment: `input` is required (the texts to augment)")
    if not cfg.output_dir:
        raise ConfigError("augment: `output_dir` is required")
    settings = cfg.model_dump(mode="json", exclude={"force"})
    done = skip_if_done(
        "augment", cfg.output_dir, settings, force=cfg.force, record="manifest.json", key="config"
    )
    if done is not None:
        return done
    io.make_dirs(cfg.output_dir)
    # A local output_dir is written in place; a URI (s3://, gs://) is written here, then uploaded,
    # replacing whatever was there. Either way it is complete once _SUCCESS.json is written.
    with io.staged_dir(cfg.output_dir) as out:
        manifest = _augment(cfg, out)
    mark_done(cfg.output_dir, {"rows": manifest["output_rows"]})
    return manifest


def _augment(cfg: AugmentConfig, out: Path) -> dict[str, Any]:
    if out.exists():
        shutil.rmtree(out)  # a partial or forced output: augmentation is cheap, start over
    t0 = time.perf_counter()
    cols = cfg.columns
    wanted = cols.texts + ([cols.id] if cols.id else [])
    # Two passes over the input, one file in memory at a time: the word counts, then the copies.
    vocab, cum = _word_counts(cfg)
    excluded = _excluded(cfg)
    log(
        "augment",
        f"{len(vocab):,} replacement words; {len(excluded):,} excluded texts; "
        f"{cfg.variants} candidates per row",
    )
    perturb = _Perturber(cfg, vocab, cum)
    skipped = {"empty_input": 0, "empty": 0, "same_as_source": 0, "repeated": 0, "excluded": 0}
    buf: dict[str, list[Any]] = {c: [] for c in ["id", *cols.texts]}
    files: list[str] = []
    rows_in = rows_out = files_in = 0

    def flush() -> None:
        if not buf["id"]:
            return
        name = f"data/part-{len(files):06d}.parquet"
        io.write_parquet_atomic(
            pa.table({k: pa.array(v, pa.string()) for k, v in buf.items()}), str(out / name)
        )
        files.append(name)
        for v in buf.values():
            v.clear()

    for path, table in tables.iter_tables(cfg.input, columns=wanted, text_columns=cols.texts):
        files_in += 1
        texts = [normalize(t) if t else "" for t in table[cols.text].to_pylist()]
        pairs = table[cols.pair].to_pylist() if cols.pair else None
        ids = table[cols.id].to_pylist() if cols.id else None
        for r, src in enumerate(texts):
            rows_in += 1
            if not src:
                skipped["empty_input"] += 1
                continue
            if ids is not None and ids[r] is None:
                raise DataError(f"{path}: row {r}: column {cols.id!r} is null")
            sid = str(ids[r]) if ids is not None else str(rows_in - 1)
            words = src.split(" ")
            made: set[str] = set()
            for k in range(cfg.variants):
                cand = perturb(words)
                reason = (
                    "empty"
                    if not cand
                    else "same_as_source"
                    if cand == src
                    else "repeated"
                    if cand in made
                    else "excluded"
                    if cand in excluded
                    else None
                )
                if reason:
                    skipped[reason] += 1
                    continue
                made.add(cand)
                buf["id"].append(f"{sid}#{k}")
                buf[cols.text].append(cand)
                if pairs is not None:
                    buf[cols.pair].append(pairs[r])
                rows_out += 1
                if len(buf["id"]) >= cfg.rows_per_file:
                    flush()
        if rows_in and rows_in % 500_000 < len(texts):
            log("augment", f"{rows_in:,} rows read, {rows_out:,} written")
    flush()
    manifest = {
        "input": cfg.input,
        "input_rows": rows_in,
        "output_rows": rows_out,
        "not_written": skipped,
        "replacement_words": len(vocab),
        "excluded_texts": len(excluded),
        "columns": {"text": cols.text, "pair": cols.pair, "id": "id"},
        "files": files,
        "seconds": round(time.perf_counter() - t0, 3),
        "config": cfg.model_dump(mode="json"),
    }
    io.write_json(out / "manifest.json", manifest)
    log(
        "augment",
        f"{rows_out:,} texts from {rows_in:,} rows in {files_in} file(s) -> {cfg.output_dir} (not written: "
        + ", ".join(f"{k} {v:,}" for k, v in skipped.items())
        + f"); {manifest['seconds']:.1f}s",
    )
    return manifest
