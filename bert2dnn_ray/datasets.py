"""Public datasets for the SST-2 → IMDB reproduction (`make data`).

``run(DatasetsConfig)`` writes, under ``output_dir`` (default ``data/``):

- ``sst2/{train,dev,test}.tsv``: SST-2 with header ``sentence\\tlabel``; ``train`` + ``dev`` are
  GLUE SST-2 train, ``test`` is GLUE SST-2 dev (872 sentences, the set published figures use).
- ``imdb/sentences.parquet``: the transfer set. All 100,000 IMDB reviews (labels ignored),
  ``<br />`` removed, split into sentences and tokenised the way GLUE tokenised SST-2
  (lower case, punctuation and clitics split off: ``does n't``, ``it 's``), so that the
  student's word n-grams mean the same thing in the transfer set and in SST-2. Columns:
  ``id`` (``<review_id>#<sentence>``), ``review_id``, ``text``.
- ``manifest.json``: where each file came from, its sha256, row counts.

Sources, in order: ``source_dir`` (``../shared/data``, checked against pinned sha256 sums),
otherwise the official downloads (GLUE's SST-2.zip, Stanford's aclImdb_v1.tar.gz), checked
against their published MD5 sums. Everything is skipped when the outputs are already there.
"""

from __future__ import annotations

import hashlib
import io as _io
import re
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from . import io
from .config import Strict
from .errors import ConfigError, DataError
from .progress import log

# Official sources and the MD5 sums their publishers' mirrors are known by (torchtext et al.).
SST2_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
SST2_MD5 = "9f81648d4199384278b86e315dac217c"
IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
# sha256 of the prepared copies in ../shared/data (see its README).
SHARED_SHA256 = {
    "sst2/train.tsv": "920e317b2c52e12cd22db1da2c6708312bd7dc4f3712b9bbf1b50ee6c2c792ba",
    "sst2/dev.tsv": "92353770071a2a889f75d000a38a9e541ea8f0a5499e50f040b17917a5cbf66f",
    "sst2/test.tsv": "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0",
    "imdb/reviews.parquet": "0c7edb624f46f71e69a65e84ee46037cd887604fb0588dc285c6a1a85822b18e",
}
SST2_FILES = ("train", "dev", "test")


class DatasetsConfig(Strict):
    source_dir: str = Field("../shared/data", description="local copy of the public data (used when present)")
    output_dir: str = Field("data", description="where sst2/ and imdb/ are written")
    download: bool = Field(True, description="download from the official sources when source_dir lacks them")
    verify: bool = Field(True, description="check sha256 (local copy) / MD5 (downloads) before use")
    dev_fraction: float = Field(
        0.1, gt=0, lt=1, description="downloaded GLUE train is split into train/dev with this fraction"
    )
    seed: int = Field(0, description="seed of that split")
    sst2_url: str = SST2_URL
    imdb_url: str = IMDB_URL
    force: bool = Field(False, description="rebuild outputs that already exist")


def file_digest(path: str | Path, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- sentence splitting / tokenising
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]{1,20}>")
_SENT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+")
# A full stop after these is not a sentence end ("mr. smith", "e.g. this").
_ABBREV = re.compile(
    r"(?:\b(?:mr|mrs|ms|dr|st|jr|sr|vs|prof|etc|vol|no|i\.e|e\.g)|\b[a-z])\.$", re.IGNORECASE
)
_CLITIC_NT = re.compile(r"(\w)(n't)\b", re.IGNORECASE)
_CLITIC = re.compile(r"(\w)('s|'re|'ve|'ll|'d|'m)\b", re.IGNORECASE)
_PUNCT = re.compile(r"(\.\.\.|--|[.,!?;:()\"`\[\]{}]|(?<!\w)'|'(?!\w))")
_SPACE = re.compile(r"\s+")


def clean_review(text: str) -> str:
    """Remove IMDB's HTML line breaks (and other short tags); collapse whitespace."""
    return _SPACE.sub(" ", _TAG.sub(" ", _BR.sub(" ", text))).strip()


def split_sentences(text: str) -> list[str]:
    """Split a cleaned review after ``.``, ``!`` or ``?`` followed by whitespace."""
    out: list[str] = []
    glue = False
    for piece in _SENT.split(text):
        piece = piece.strip()
        if not piece:
            continue
        if glue and out:
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
        glue = bool(_ABBREV.search(piece))
    return out


def glue_tokenize(sentence: str) -> str:
    """Lower-case and split off punctuation and clitics, as GLUE's SST-2 text is."""
    s = _PUNCT.sub(r" \1 ", sentence.lower())  # quotes inside words ("it's") stay for the clitics
    s = _CLITIC_NT.sub(r"\1 \2", s)
    s = _CLITIC.sub(r"\1 \2", s)
    return _SPACE.sub(" ", s).strip()


def review_sentences(
    review_ids: list[str], texts: list[str | None]
) -> tuple[dict[str, list], dict[str, int]]:
    """The transfer set's rows from reviews, and counts (reviews, empty reviews, sentences)."""
    ids, rids, out = [], [], []
    empty = 0
    for rid, text in zip(review_ids, texts):
        sents = [glue_tokenize(s) for s in split_sentences(clean_review(text or ""))]
        sents = [s for s in sents if s]
        if not sents:
            empty += 1
        for k, s in enumerate(sents):
            ids.append(f"{rid}#{k}")
            rids.append(rid)
            out.append(s)
    return {"id": ids, "review_id": rids, "text": out}, {
        "reviews": len(texts),
        "reviews_without_text": empty,
        "sentences": len(out),
    }


# ---------------------------------------------------------------- sources
def _download(url: str, dest: Path, md5: str | None) -> Path:
    log("data", f"downloading {url}")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f, 1 << 20)
    except OSError as e:
        raise DataError(f"{url}: download failed ({e}); put the data under source_dir instead") from None
    if md5:
        got = file_digest(dest, "md5")
        if got != md5:
            raise DataError(f"{url}: MD5 {got} does not match the published {md5}; refusing to use it")
    return dest


def _shared(cfg: DatasetsConfig, rel: str) -> Path | None:
    p = Path(cfg.source_dir, rel)
    if not p.is_file():
        return None
    if cfg.verify:
        got = file_digest(p)
        if got != SHARED_SHA256[rel]:
            raise DataError(
                f"{p}: sha256 {got} is not the pinned {SHARED_SHA256[rel]} (verify=false to accept)"
            )
    return p


def _sst2(cfg: DatasetsConfig, out: Path, tmp: Path) -> dict[str, Any]:
    local = {name: _shared(cfg, f"sst2/{name}.tsv") for name in SST2_FILES}
    out.mkdir(parents=True, exist_ok=True)
    if all(local.values()):
        for name, p in local.items():
            shutil.copyfile(p, out / f"{name}.tsv")
        return {"source": str(Path(cfg.source_dir, "sst2")), "verified": cfg.verify}
    if not cfg.download:
        raise DataError(f"{cfg.source_dir}/sst2 is missing and download=false")
    z = _download(cfg.sst2_url, tmp / "SST-2.zip", SST2_MD5 if cfg.verify else None)
    with zipfile.ZipFile(z) as zf:
        train = zf.read("SST-2/train.tsv").decode("utf-8").splitlines()
        dev = zf.read("SST-2/dev.tsv").decode("utf-8").splitlines()
    header, rows = train[0], [r for r in train[1:] if r.strip()]
    if header.split("\t") != ["sentence", "label"]:
        raise DataError(f"{cfg.sst2_url}: SST-2/train.tsv header is {header!r}, expected 'sentence\\tlabel'")
    order = np.random.default_rng(cfg.seed).permutation(len(rows))
    n_dev = int(round(cfg.dev_fraction * len(rows)))
    dev_idx = set(order[:n_dev].tolist())
    parts = {
        "train": [r for i, r in enumerate(rows) if i not in dev_idx],
        "dev": [r for i, r in enumerate(rows) if i in dev_idx],
        "test": [r for r in dev[1:] if r.strip()],
    }
    for name, lines in parts.items():
        (out / f"{name}.tsv").write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return {"source": cfg.sst2_url, "verified": cfg.verify, "split_seed": cfg.seed}


def _imdb_reviews(cfg: DatasetsConfig, tmp: Path) -> tuple[list[str], list[str | None], dict[str, Any]]:
    import pyarrow.parquet as pq

    local = _shared(cfg, "imdb/reviews.parquet")
    if local:
        t = pq.read_table(local, columns=["review_id", "text"])
        info = {"source": str(local), "verified": cfg.verify}
        return t.column("review_id").to_pylist(), t.column("text").to_pylist(), info
    if not cfg.download:
        raise DataError(f"{cfg.source_dir}/imdb/reviews.parquet is missing and download=false")
    arc = _download(cfg.imdb_url, tmp / "aclImdb_v1.tar.gz", IMDB_MD5 if cfg.verify else None)
    ids, texts = [], []
    pat = re.compile(r"aclImdb/(train|test)/(pos|neg|unsup)/(\d+)_\d+\.txt$")
    with tarfile.open(arc, "r:gz") as tf:
        for m in tf:
            hit = pat.search(m.name) if m.isfile() else None
            if not hit:
                continue
            data = tf.extractfile(m)
            if data is None:
                continue
            ids.append(f"{hit.group(1)}/{hit.group(2)}/{hit.group(3)}")
            texts.append(_io.TextIOWrapper(data, encoding="utf-8", errors="replace").read())
    if not ids:
        raise DataError(f"{cfg.imdb_url}: no aclImdb/*/*/*.txt reviews in the archive")
    return ids, texts, {"source": cfg.imdb_url, "verified": cfg.verify}


def run(cfg: DatasetsConfig) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(cfg.output_dir)
    manifest_path = out / "manifest.json"
    if manifest_path.exists() and not cfg.force:
        m = io.read_json(manifest_path)
        if all(Path(out, f).exists() for f in m.get("files", {})):
            log("data", f"datasets already prepared in {out} (force=true to rebuild)")
            return m
    if not cfg.download and not Path(cfg.source_dir).is_dir():
        raise ConfigError(f"source_dir {cfg.source_dir} does not exist and download=false")
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"files": {}}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        manifest["sst2"] = _sst2(cfg, out / "sst2", tmp)
        ids, texts, info = _imdb_reviews(cfg, tmp)
    log("data", f"IMDB: splitting {len(texts):,} reviews into sentences")
    cols, counts = review_sentences(ids, texts)
    manifest["imdb"] = {**info, **counts}
    (out / "imdb").mkdir(parents=True, exist_ok=True)
    table = pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()})
    io.write_parquet_atomic(table, str(out / "imdb" / "sentences.parquet"), row_group_size=100_000)
    for rel in [f"sst2/{n}.tsv" for n in SST2_FILES] + ["imdb/sentences.parquet"]:
        p = out / rel
        rows = pq.ParquetFile(p).metadata.num_rows if rel.endswith(".parquet") else _tsv_rows(p)
        manifest["files"][rel] = {"sha256": file_digest(p), "rows": rows}
    io.write_json(manifest_path, manifest)
    f = manifest["files"]
    log(
        "data",
        f"SST-2 train/dev/test {f['sst2/train.tsv']['rows']:,}/{f['sst2/dev.tsv']['rows']:,}/"
        f"{f['sst2/test.tsv']['rows']:,} rows; IMDB {counts['reviews']:,} reviews -> "
        f"{counts['sentences']:,} sentences ({counts['reviews_without_text']} reviews without text) -> {out}",
    )
    return manifest


def _tsv_rows(path: Path) -> int:
    with open(path, encoding="utf-8") as f:
        return max(0, sum(1 for line in f if line.strip()) - 1)
