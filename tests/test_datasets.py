"""`make data`: SST-2 + IMDB transfer-set preparation, from a local copy or downloads (file:// here)."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bert2dnn_ray import datasets
from bert2dnn_ray.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def test_sentences_are_cleaned_split_and_tokenised_like_glue():
    review = (
        "Once again Mr. Costner has dragged it out.<br /><br />It's bad, isn't it? "
        '"Yes!" she said. The students\' work was OK.'
    )
    sents = datasets.split_sentences(datasets.clean_review(review))
    assert sents == [
        "Once again Mr. Costner has dragged it out.",
        "It's bad, isn't it?",
        '"Yes!"',
        "she said.",
        "The students' work was OK.",
    ]
    assert [datasets.glue_tokenize(s) for s in sents] == [
        "once again mr . costner has dragged it out .",
        "it 's bad , is n't it ?",
        '" yes ! "',
        "she said .",
        "the students ' work was ok .",
    ]
    cols, counts = datasets.review_sentences(["r1", "r2", "r3"], ["Good. Bad!", "", None])
    assert cols == {"id": ["r1#0", "r1#1"], "review_id": ["r1", "r1"], "text": ["good .", "bad !"]}
    assert counts == {"reviews": 3, "reviews_without_text": 2, "sentences": 2}


def _shared_copy(root: Path) -> Path:
    (root / "sst2").mkdir(parents=True)
    (root / "imdb").mkdir()
    for name, rows in {"train": 6, "dev": 2, "test": 2}.items():
        lines = ["sentence\tlabel"] + [f"{name} sentence {i} .\t{i % 2}" for i in range(rows)]
        (root / "sst2" / f"{name}.tsv").write_text("\n".join(lines) + "\n")
    pq.write_table(
        pa.table(
            {"review_id": ["train/pos/1", "unsup/unsup/2"], "text": ["Great film.<br />Loved it!", "Meh."]}
        ),
        root / "imdb" / "reviews.parquet",
    )
    return root


def test_prepare_from_local_copy_verifies_checksums(tmp_path, monkeypatch):
    src = _shared_copy(tmp_path / "shared")
    cfg = datasets.DatasetsConfig(source_dir=str(src), output_dir=str(tmp_path / "data"), download=False)
    with pytest.raises(DataError, match=r"sst2/train.tsv: sha256 .* is not the pinned"):
        datasets.run(cfg)
    pins = {rel: datasets.file_digest(src / rel) for rel in datasets.SHARED_SHA256}
    monkeypatch.setattr(datasets, "SHARED_SHA256", pins)
    m = datasets.run(cfg)
    out = tmp_path / "data"
    assert (out / "sst2" / "train.tsv").read_text() == (src / "sst2" / "train.tsv").read_text()
    assert m["files"]["sst2/train.tsv"]["rows"] == 6 and m["files"]["sst2/test.tsv"]["rows"] == 2
    t = pq.read_table(out / "imdb" / "sentences.parquet")
    assert t["text"].to_pylist() == ["great film .", "loved it !", "meh ."]
    assert t["id"].to_pylist() == ["train/pos/1#0", "train/pos/1#1", "unsup/unsup/2#0"]
    assert m["imdb"]["sentences"] == 3
    assert json.loads((out / "manifest.json").read_text())["files"]["imdb/sentences.parquet"]["rows"] == 3
    # a second run finds everything in place and does nothing
    (src / "sst2" / "train.tsv").unlink()
    assert datasets.run(cfg)["files"] == m["files"]


def _archives(tmp_path: Path) -> tuple[Path, Path]:
    sst = tmp_path / "SST-2.zip"
    with zipfile.ZipFile(sst, "w") as zf:
        train = "sentence\tlabel\n" + "".join(f"sentence {i} .\t{i % 2}\n" for i in range(20))
        zf.writestr("SST-2/train.tsv", train)
        zf.writestr("SST-2/dev.tsv", "sentence\tlabel\nheld out .\t1\nanother .\t0\n")
    imdb = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(imdb, "w:gz") as tf:
        for name, text in {
            "aclImdb/train/pos/7_9.txt": "A gem. Watch it!",
            "aclImdb/test/neg/3_2.txt": "Dull.<br />Too long.",
            "aclImdb/train/unsup/11_0.txt": "Mr. Smith was fine.",
            "aclImdb/README": "not a review",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return sst, imdb


def test_prepare_downloads_and_checks_md5(tmp_path, monkeypatch):
    sst, imdb = _archives(tmp_path)
    cfg = datasets.DatasetsConfig(
        source_dir=str(tmp_path / "nowhere"),
        output_dir=str(tmp_path / "data"),
        sst2_url=sst.as_uri(),
        imdb_url=imdb.as_uri(),
        dev_fraction=0.25,
    )
    with pytest.raises(DataError, match="MD5 .* does not match the published"):
        datasets.run(cfg)
    monkeypatch.setattr(datasets, "SST2_MD5", hashlib.md5(sst.read_bytes()).hexdigest())
    monkeypatch.setattr(datasets, "IMDB_MD5", hashlib.md5(imdb.read_bytes()).hexdigest())
    m = datasets.run(cfg)
    out = tmp_path / "data"
    train = (out / "sst2/train.tsv").read_text().splitlines()
    dev = (out / "sst2/dev.tsv").read_text().splitlines()
    assert train[0] == dev[0] == "sentence\tlabel"
    assert len(train) - 1 == 15 and len(dev) - 1 == 5  # seeded 25% split of GLUE train
    assert sorted(train[1:] + dev[1:]) == sorted(f"sentence {i} .\t{i % 2}" for i in range(20))
    assert (out / "sst2/test.tsv").read_text().splitlines()[1:] == ["held out .\t1", "another .\t0"]
    t = pq.read_table(out / "imdb/sentences.parquet").to_pydict()
    assert dict(zip(t["id"], t["text"])) == {
        "train/pos/7#0": "a gem .",
        "train/pos/7#1": "watch it !",
        "test/neg/3#0": "dull .",
        "test/neg/3#1": "too long .",
        "train/unsup/11#0": "mr . smith was fine .",
    }
    assert m["imdb"]["reviews"] == 3


def test_datasets_cli_error_is_one_line(tmp_path):
    import subprocess

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "bert2dnn_ray",
            "datasets",
            "--set",
            f"source_dir={tmp_path}/none",
            "--set",
            "download=false",
            "--set",
            f"output_dir={tmp_path}/out",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "download=false" in r.stderr
