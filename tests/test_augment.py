"""augment.py: perturbed copies of texts, every candidate written or counted, deterministic."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from bert2dnn_ray import augment, cli, tables
from bert2dnn_ray.errors import ConfigError, DataError

TEXTS = [
    "a gripping , funny and moving film",
    "the plot is thin and the acting is worse",
    "",
    "good",
    "an utterly forgettable sequel that nobody asked for",
]


def _input(tmp_path, **extra):
    p = tmp_path / "in.parquet"
    cols = {"id": [f"r{i}" for i in range(len(TEXTS))], "text": TEXTS, **extra}
    pq.write_table(pa.table(cols), p)
    return p


def _out(out):
    return pq.read_table(out / "data").to_pydict()


def test_every_candidate_is_written_or_counted_and_runs_are_deterministic(tmp_path):
    inp = _input(tmp_path)
    kw = {"input": str(inp), "columns": {"text": "text", "id": "id"}, "variants": 6, "seed": 3}
    m = augment.run(augment.AugmentConfig(**kw, output_dir=str(tmp_path / "a")))
    assert m["input_rows"] == 5 and m["not_written"]["empty_input"] == 1
    not_written = sum(v for k, v in m["not_written"].items() if k != "empty_input")
    assert m["output_rows"] + not_written == 4 * 6
    # "good" (one word) can only be dropped, replaced or kept: kept is "same_as_source"
    assert m["not_written"]["same_as_source"] >= 1 and m["not_written"]["empty"] >= 0
    got = _out(tmp_path / "a")
    assert len(got["text"]) == m["output_rows"] > 10
    assert all(i.split("#")[0] in {"r0", "r1", "r3", "r4"} for i in got["id"])
    assert len(set(got["id"])) == len(got["id"])
    sources = {f"r{i}": t for i, t in enumerate(TEXTS)}
    assert all(t and t != sources[i.split("#")[0]] for i, t in zip(got["id"], got["text"]))
    vocab = {w for t in TEXTS for w in t.split()}
    assert all(set(t.split()) <= vocab for t in got["text"])  # replacements come from the input
    again = augment.run(augment.AugmentConfig(**kw, output_dir=str(tmp_path / "b")))
    assert _out(tmp_path / "b") == got and again["not_written"] == m["not_written"]
    other = augment.run(augment.AugmentConfig(**{**kw, "seed": 4}, output_dir=str(tmp_path / "c")))
    assert _out(tmp_path / "c") != got and other["input_rows"] == 5


def test_input_in_several_files_gives_the_same_copies(tmp_path):
    # augment holds one input file at a time (one pass for the word counts, one for the copies):
    # how the input is split into files changes nothing, and vocab_rows may end in a later file.
    one = _input(tmp_path)
    parts = tmp_path / "parts"
    parts.mkdir()
    table = pq.read_table(one)
    pq.write_table(table.slice(0, 2), parts / "a.parquet")
    pq.write_table(table.slice(2), parts / "b.parquet")
    kw = {
        "columns": {"text": "text", "id": "id"},
        "variants": 6,
        "seed": 5,
        "vocab_rows": 4,
        "replace_prob": 0.5,
    }
    m1 = augment.run(augment.AugmentConfig(**kw, input=str(one), output_dir=str(tmp_path / "one")))
    m2 = augment.run(augment.AugmentConfig(**kw, input=str(parts), output_dir=str(tmp_path / "two")))
    got = _out(tmp_path / "two")
    assert got == _out(tmp_path / "one") and len(got["text"]) > 10
    assert m2["input_rows"] == 5 and m2["not_written"] == m1["not_written"]
    first4 = {w for t in TEXTS[:4] for w in t.split()}  # the replacement words: rows 0-3 only
    assert m2["replacement_words"] == len(first4)
    sources = {f"r{i}": set(t.split()) for i, t in enumerate(TEXTS)}
    new_words = {w for i, t in zip(got["id"], got["text"]) for w in set(t.split()) - sources[i.split("#")[0]]}
    assert new_words and new_words <= first4


def test_ngram_spans_exclude_sets_and_pairs(tmp_path):
    inp = _input(tmp_path, title=[f"title {i}" for i in range(len(TEXTS))])
    excl = tmp_path / "dev.tsv"
    excl.write_text("sentence\tlabel\nfilm\t1\nthe\t0\n")
    m = augment.run(
        augment.AugmentConfig(
            input=str(inp),
            columns={"text": "text", "pair": "title"},
            output_dir=str(tmp_path / "o"),
            variants=20,
            mask_prob=0.0,
            replace_prob=0.0,
            ngram_prob=1.0,
            max_ngram=1,
            exclude=[str(excl)],
            exclude_column="sentence",
        )
    )
    got = _out(tmp_path / "o")
    assert m["excluded_texts"] == 2 and m["not_written"]["excluded"] >= 2
    assert all(len(t.split()) == 1 for t in got["text"])  # single-word spans
    assert not {"film", "the"} & set(got["text"])
    # no id column: the source's row number; the pair travels unchanged with its text
    for i, t, title in zip(got["id"], got["text"], got["title"]):
        src = int(i.split("#")[0])
        assert title == f"title {src}" and t in TEXTS[src].split()
    assert m["not_written"]["repeated"] > 0  # 20 draws from at most 9 words


def test_complete_output_is_skipped_unless_forced(tmp_path):
    inp = _input(tmp_path)
    cfg = augment.AugmentConfig(input=str(inp), output_dir=str(tmp_path / "o"), variants=2)
    first = augment.run(cfg)
    part = tmp_path / "o" / "data" / "part-000000.parquet"
    part.write_bytes(b"sentinel")  # a skipped run does not touch the output
    assert augment.run(cfg) == first and part.read_bytes() == b"sentinel"
    augment.run(cfg.model_copy(update={"force": True}))
    assert pq.read_table(part).num_rows == first["output_rows"]
    # other settings are refused, not passed off as this run's output
    with pytest.raises(ConfigError, match=r"other settings \(variants: 2 -> 3\); set force=true"):
        augment.run(cfg.model_copy(update={"variants": 3}))
    again = augment.run(cfg.model_copy(update={"variants": 3, "force": True}))
    assert again["config"]["variants"] == 3 and augment.run(cfg.model_copy(update={"variants": 3})) == again


def test_output_on_object_storage(tmp_path, s3_server):
    # As on a cluster whose run directory is s3:// or gs://: the output is written there, the
    # input and the exclude sets may be there too, and a finished output is skipped there.
    from bert2dnn_ray import io

    inp = _input(tmp_path)
    local = augment.run(augment.AugmentConfig(input=str(inp), output_dir=str(tmp_path / "o"), variants=3))
    remote_in = f"{s3_server[0]}/augment/{tmp_path.name}/in.parquet"
    io.write_parquet_atomic(pq.read_table(inp), remote_in)
    out = f"{s3_server[0]}/augment/{tmp_path.name}/out"
    cfg = augment.AugmentConfig(input=remote_in, output_dir=out, variants=3)
    got = augment.run(cfg)
    assert got["output_rows"] == local["output_rows"] > 0 and got["not_written"] == local["not_written"]
    assert io.exists(f"{out}/_SUCCESS.json") and io.read_json(f"{out}/manifest.json") == got
    assert tables.read_table(f"{out}/data").to_pydict() == _out(tmp_path / "o")  # the same rows
    assert augment.run(cfg) == got  # finished: skipped
    with pytest.raises(ConfigError, match=r"other settings \(variants: 3 -> 2\)"):
        augment.run(cfg.model_copy(update={"variants": 2}))
    forced = augment.run(cfg.model_copy(update={"variants": 2, "force": True}))
    assert tables.read_table(f"{out}/data").num_rows == forced["output_rows"] < got["output_rows"]


def test_bad_configs_and_inputs_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(ValidationError, match="mask_prob \\+ replace_prob"):
        augment.AugmentConfig(mask_prob=0.6, replace_prob=0.6)
    with pytest.raises(ConfigError, match="input"):
        augment.run(augment.AugmentConfig(output_dir=str(tmp_path / "o")))
    inp = _input(tmp_path)
    with pytest.raises(DataError, match="missing column 'body'"):
        augment.run(
            augment.AugmentConfig(input=str(inp), columns={"text": "body"}, output_dir=str(tmp_path / "o"))
        )
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": ["x", None], "text": ["fine film", "bad film"]}), bad)
    with pytest.raises(DataError, match="row 1: column 'id' is null"):
        augment.run(
            augment.AugmentConfig(input=str(bad), columns={"id": "id"}, output_dir=str(tmp_path / "p"))
        )
    # through the CLI: exit 2 and one line naming the file
    capsys.readouterr()
    rc = cli.main(
        [
            "augment",
            "--set",
            f"input={inp}",
            "--set",
            "columns.text=body",
            "--set",
            f"output_dir={tmp_path}/q",
        ]
    )
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
    assert rc == 2 and len(err) == 1 and err[0].startswith("bert2dnn augment: error: ")
    assert "in.parquet" in err[0] and "'body'" in err[0]
