"""StudentNet math, the student artifact (save/load/predict), ONNX parity and corruption handling."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bert2dnn_ray.errors import ArtifactError, ConfigError, DataError
from bert2dnn_ray.featurizer import Featurizer, FeaturizerConfig
from bert2dnn_ray.student import (
    FORMAT_NAME,
    FORMAT_VERSION,
    OnnxStudent,
    Student,
    StudentModelConfig,
    StudentNet,
    count_parameters,
    save_student,
)

FCFG = FeaturizerConfig(num_buckets=4096, char_ngrams=[3], pair_cross=True)
MCFG = StudentModelConfig(embedding_dim=16, hidden=[32, 16], num_labels=3)
LABELS = ["neg", "neutral", "pos"]
TEXTS = [
    "cheap red iPhone-15 case!",
    "",
    "   ",
    "Straße über 10€",
    "women's t-shirt size 10",
    "nike",
    "a " * 60,
    "中文 😀 ｆｕｌｌ",
]
PAIRS = ["red case", "nothing", "", "strasse", "t shirt", "nike running shoes", "b", "中文"]


def _net(
    pooling: str = "sqrtn", seed: int = 0, cfg: StudentModelConfig = MCFG, buckets: int = 4096
) -> StudentNet:
    torch.manual_seed(seed)
    net = StudentNet(cfg.model_copy(update={"pooling": pooling}), buckets)
    with torch.no_grad():  # make the head non-trivial so probabilities differ between inputs
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return net.eval()


@pytest.fixture()
def artifact(tmp_path: Path) -> Path:
    return save_student(
        tmp_path / "student",
        _net(),
        FCFG,
        MCFG,
        LABELS,
        metrics={"accuracy": np.float32(0.75), "n": np.int64(10)},
        extra={"temperature": 2.0, "text_fields": {"text": "query", "pair": "title"}, "run": "t1"},
    )


# ---------------------------------------------------------------------------------------- model
@pytest.mark.parametrize("pooling", ["sqrtn", "mean", "sum"])
@pytest.mark.parametrize("num_labels", [2, 5])
def test_output_shapes_and_padded_equivalence(pooling, num_labels):
    cfg = MCFG.model_copy(update={"num_labels": num_labels})
    net = _net(pooling, cfg=cfg)
    f = Featurizer(FCFG)
    ids, offsets = f.batch(TEXTS, PAIRS)
    with torch.no_grad():
        logits = net(torch.from_numpy(ids), torch.from_numpy(offsets))
        assert logits.shape == (len(TEXTS), num_labels)
        # Padded layout (used by ONNX) is the same function.
        lens = np.diff(np.append(offsets, len(ids)))
        width = int(lens.max()) + 3
        pids = torch.zeros((len(TEXTS), width), dtype=torch.int64)
        mask = torch.zeros((len(TEXTS), width))
        for i, (s, n) in enumerate(zip(offsets, lens)):
            pids[i, :n] = torch.from_numpy(ids[s : s + n])
            pids[i, n:] = 7  # padding ids are ignored whatever they are
            mask[i, :n] = 1
        torch.testing.assert_close(net.forward_padded(pids, mask), logits, rtol=1e-5, atol=1e-5)
        for i, t in enumerate(TEXTS):
            one = net.forward_one(torch.from_numpy(f.ids(t, PAIRS[i])))
            torch.testing.assert_close(one, logits[i : i + 1], rtol=1e-5, atol=1e-5)


def test_pooling_math_by_hand():
    cfg = StudentModelConfig(embedding_dim=3, hidden=[], num_labels=2, pooling="sqrtn")
    net = StudentNet(cfg, 10)
    with torch.no_grad():
        net.embedding.weight.copy_(torch.arange(30, dtype=torch.float32).reshape(10, 3))
    ids = torch.tensor([1, 2, 2, 5, 9], dtype=torch.int64)
    offsets = torch.tensor([0, 4], dtype=torch.int64)  # bags [1, 2, 2, 5] and [9]
    w = net.embedding.weight.detach()
    bag0 = w[1] + w[2] + w[2] + w[5]  # = [30, 34, 38]
    assert bag0.tolist() == [30.0, 34.0, 38.0]
    expected = {
        "sqrtn": torch.stack([bag0 / 2.0, w[9] / 1.0]),
        "mean": torch.stack([bag0 / 4.0, w[9]]),
        "sum": torch.stack([bag0, w[9]]),
    }
    for mode, want in expected.items():
        net.pooling = mode
        torch.testing.assert_close(net.pool(ids, offsets).detach(), want)
    # With no hidden layers the logits are just the head applied to the pooled vector.
    net.pooling = "sqrtn"
    with torch.no_grad():
        logits = net(ids, offsets)
        torch.testing.assert_close(logits, expected["sqrtn"] @ net.head.weight.T + net.head.bias)
    assert math.isclose(float(net.pool(ids, offsets).detach()[0, 0]), 30.0 / math.sqrt(4))


def test_count_parameters_and_config():
    net = StudentNet(StudentModelConfig(), 262144)  # the default: one hidden layer of 64
    assert count_parameters(net) == 262144 * 64 + (64 * 64 + 64) + (64 * 2 + 2)
    reference = StudentNet(StudentModelConfig(hidden=[1024, 512, 128, 64]), 262144)  # BERT2DNN's MLP
    expected = (
        262144 * 64
        + (64 * 1024 + 1024)
        + (1024 * 512 + 512)
        + (512 * 128 + 128)
        + (128 * 64 + 64)
        + (64 * 2 + 2)
    )
    assert count_parameters(reference) == expected
    assert count_parameters(StudentNet(StudentModelConfig(hidden=[]), 4096)) == 4096 * 64 + 64 * 2 + 2
    assert [n for n, _ in net.named_parameters()][:3] == [
        "embedding.weight",
        "hidden.0.weight",
        "hidden.0.bias",
    ]
    from bert2dnn_ray.config import build

    for bad in ({"pooling": "max"}, {"num_labels": 1}, {"hidden": [0]}, {"dropout": 1.0}, {"layers": 2}):
        with pytest.raises(ConfigError):
            build(StudentModelConfig, bad, source="model")


def test_dropout_only_in_training():
    cfg = MCFG.model_copy(update={"dropout": 0.5})
    net = _net(cfg=cfg)
    ids, offsets = (torch.from_numpy(a) for a in Featurizer(FCFG).batch(TEXTS))
    with torch.no_grad():
        a, b = net(ids, offsets), net(ids, offsets)
        torch.testing.assert_close(a, b)
        net.train()
        assert not torch.equal(net(ids, offsets), a)


# ------------------------------------------------------------------------------------- artifact
def test_save_load_predict_round_trip(artifact: Path):
    meta = json.loads((artifact / "student.json").read_text())
    assert meta["format"] == FORMAT_NAME and meta["format_version"] == FORMAT_VERSION
    assert meta["label_names"] == LABELS and meta["num_buckets"] == 4096
    assert meta["temperature"] == 2.0 and meta["text_fields"] == {"text": "query", "pair": "title"}
    assert meta["extra"] == {"run": "t1"} and len(meta["weights"]["sha256"]) == 64
    assert sorted(p.name for p in artifact.iterdir()) == ["metrics.json", "model.safetensors", "student.json"]

    s = Student.load(artifact)
    assert s.label_names == LABELS and s.num_labels == 3
    assert s.featurizer.config == FCFG and s.metrics == {"accuracy": 0.75, "n": 10}
    assert s.temperature == 2.0 and s.text_fields["pair"] == "title"
    assert not s.model.training

    probs = s.predict(TEXTS, PAIRS)
    assert probs.shape == (len(TEXTS), 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert np.ptp(probs[:, 0]) > 1e-3  # inputs matter
    # Same numbers as the in-memory model, and as the one-at-a-time path.
    net = _net()
    ids, offsets = Featurizer(FCFG).batch(TEXTS, PAIRS)
    with torch.no_grad():
        want = torch.softmax(net(torch.from_numpy(ids), torch.from_numpy(offsets)), -1).numpy()
    np.testing.assert_array_equal(probs, want)
    singles = np.stack([s.predict_one(t, p) for t, p in zip(TEXTS, PAIRS)])
    np.testing.assert_allclose(singles, probs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(s.predict(TEXTS, PAIRS, batch_size=3), probs, rtol=0, atol=1e-6)
    logits = torch.from_numpy(s.logits(TEXTS, PAIRS))
    np.testing.assert_allclose(torch.softmax(logits, -1).numpy(), probs, rtol=0, atol=1e-6)
    assert s.predict([]).shape == (0, 3)


def test_onnx_matches_pytorch(artifact: Path):
    s = Student.load(artifact)
    onnx_path = s.export_onnx()
    assert onnx_path == artifact / "model.onnx" and onnx_path.is_file()
    rec = json.loads((artifact / "student.json").read_text())["onnx"]
    assert rec["weights_sha256"] == s.meta["weights"]["sha256"] and len(rec["sha256"]) == 64

    o = OnnxStudent.load(artifact)
    assert o.label_names == LABELS and o.num_labels == 3
    texts = TEXTS * 20
    pairs = PAIRS * 20
    np.testing.assert_allclose(
        o.predict(texts, pairs, batch_size=37), s.predict(texts, pairs), rtol=0, atol=1e-5
    )
    np.testing.assert_allclose(o.logits(TEXTS), s.logits(TEXTS), rtol=0, atol=1e-5)
    for t, p in zip(TEXTS, PAIRS):
        np.testing.assert_allclose(o.predict_one(t, p), s.predict_one(t, p), rtol=0, atol=1e-5)

    # Re-saving the student drops the now-stale ONNX file.
    save_student(artifact, _net(seed=1), FCFG, MCFG, LABELS)
    assert not (artifact / "model.onnx").exists() and not (artifact / "metrics.json").exists()
    with pytest.raises(ArtifactError, match="model.onnx"):
        OnnxStudent.load(artifact)


def test_int8_onnx_close_to_pytorch_and_checked(artifact: Path):
    s = Student.load(artifact)
    texts, pairs = TEXTS * 10, PAIRS * 10
    rec = s.export_onnx_int8(texts, pairs)
    assert (artifact / "model.onnx").is_file()  # the float32 export it quantizes came first
    meta = json.loads((artifact / "student.json").read_text())
    assert meta["onnx_int8"] == rec and rec["file"] == "model.int8.onnx"
    assert rec["check_texts"] == 5 + len(texts) and 0 <= rec["max_abs_diff"] <= 0.02
    q = OnnxStudent.load(artifact, precision="int8")
    got, want = q.predict(texts, pairs, batch_size=7), s.predict(texts, pairs)
    assert np.abs(got - want).max() <= 0.02 and np.abs(got - want).max() > 0  # really quantized
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.9
    # Activations are quantized per batch: alone, a text's probabilities move a little.
    for t, p in zip(TEXTS, PAIRS):
        one = q.predict_one(t, p)
        assert one.shape == (3,) and np.abs(one - s.predict([t], [p])[0]).max() <= 0.02
    with pytest.raises(DataError, match="precision must be one of"):
        OnnxStudent.load(artifact, precision="fp16")
    with pytest.raises(DataError, match="threads must be a positive integer"):
        OnnxStudent.load(artifact, precision="int8", threads=0)
    one = OnnxStudent.load(artifact, precision="int8", threads=1)
    assert one.session.get_session_options().intra_op_num_threads == 1
    # A tolerance the quantized model cannot meet: one-line error, nothing written.
    (artifact / "model.int8.onnx").unlink()
    with pytest.raises(ArtifactError, match="int8 probabilities differ from PyTorch"):
        s.export_onnx_int8(texts, pairs, tolerance=1e-9)
    assert not (artifact / "model.int8.onnx").exists()
    assert not list(artifact.glob(".model.int8.onnx.tmp*"))
    # Re-saving the student drops the stale int8 file too.
    s.export_onnx_int8(texts, pairs)
    save_student(artifact, _net(seed=1), FCFG, MCFG, LABELS)
    assert not (artifact / "model.int8.onnx").exists()
    with pytest.raises(ArtifactError, match="model.int8.onnx"):
        OnnxStudent.load(artifact, precision="int8")


def test_export_to_explicit_path_for_in_memory_student(tmp_path: Path):
    s = Student(_net(), Featurizer(FCFG), LABELS)
    with pytest.raises(ArtifactError, match="pass a path"):
        s.export_onnx()
    p = s.export_onnx(tmp_path / "x.onnx")
    assert p.is_file()


def test_predict_input_errors(artifact: Path):
    s = Student.load(artifact)
    with pytest.raises(DataError, match="predict_one"):
        s.predict("a single string")
    with pytest.raises(DataError, match="counts must match"):
        s.predict(["a", "b"], ["c"])
    with pytest.raises(DataError, match="batch_size"):
        s.predict(["a"], batch_size=0)
    with pytest.raises(DataError, match="precision must be one of"):
        s.predict(["a"], precision="int8")


def test_bfloat16_batch_path_close_to_float32(artifact: Path):
    """predict(precision="bfloat16"): the dense layers in bfloat16, pooling and softmax in float32;
    close to float32, same batch splits, float32 outputs; the float32 path is untouched."""
    s = Student.load(artifact)
    texts = TEXTS * 40
    pairs = PAIRS * 40
    ref = s.predict(texts, pairs)
    got = s.predict(texts, pairs, batch_size=7, precision="bfloat16")
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    assert 0 < np.abs(got - ref).max() < 0.03  # bfloat16 really ran, and stays close
    assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.95
    lg = s.logits(texts[:8], pairs[:8], precision="bfloat16")
    np.testing.assert_allclose(lg, s.logits(texts[:8], pairs[:8]), atol=0.1)
    np.testing.assert_array_equal(s.predict(texts, pairs), ref)  # float32 unchanged after a bf16 call


def test_save_validates_inputs(tmp_path: Path):
    with pytest.raises(ArtifactError, match="num_buckets"):
        save_student(tmp_path / "a", _net(buckets=1024), FCFG, MCFG, LABELS)
    with pytest.raises(ArtifactError, match="label_names"):
        save_student(tmp_path / "b", _net(), FCFG, MCFG, ["neg", "pos"])
    with pytest.raises(ArtifactError, match="duplicates"):
        save_student(tmp_path / "c", _net(), FCFG, MCFG, ["a", "a", "b"])
    with pytest.raises(ArtifactError, match="hidden.0.weight"):
        save_student(tmp_path / "d", _net(), FCFG, MCFG.model_copy(update={"hidden": [8, 16]}), LABELS)
    bad = _net()
    with torch.no_grad():
        bad.head.bias[0] = float("nan")
    with pytest.raises(ArtifactError, match="NaN"):
        save_student(tmp_path / "e", bad, FCFG, MCFG, LABELS)
    # Plain dicts are accepted for the configs.
    out = save_student(tmp_path / "f", _net(), FCFG.model_dump(), MCFG.model_dump(), LABELS)
    assert Student.load(out / "student.json").label_names == LABELS
    # text_fields: keyword > extra["text_fields"] > extra["text_columns"] > default.
    cols = {"text": "q", "pair": "t"}
    out = save_student(tmp_path / "g", _net(), FCFG, MCFG, LABELS, extra={"text_columns": cols, "k": 1})
    s = Student.load(out)
    assert s.text_fields == cols and s.meta["extra"] == {"k": 1} and s.temperature is None
    out = save_student(tmp_path / "h", _net(), FCFG, MCFG, LABELS, text_fields={"text": "x"}, temperature=3)
    assert Student.load(out).text_fields == {"text": "x"} and Student.load(out).temperature == 3.0
    assert Student.load(save_student(tmp_path / "i", _net(), FCFG, MCFG, LABELS)).text_fields == {
        "text": "text",
        "pair": None,
    }


# ----------------------------------------------------------------------------------- corruption
def _edit_meta(d: Path, **changes) -> None:
    meta = json.loads((d / "student.json").read_text())
    for key, value in changes.items():
        if "__" in key:
            outer, inner = key.split("__")
            meta[outer][inner] = value
        else:
            meta[key] = value
    (d / "student.json").write_text(json.dumps(meta))


def _expect(path, *fragments: str) -> str:
    with pytest.raises(ArtifactError) as info:
        Student.load(path)
    msg = str(info.value)
    assert "\n" not in msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


def test_missing_paths(tmp_path: Path, artifact: Path):
    _expect(tmp_path / "nope", str(tmp_path / "nope"), "not found")
    (tmp_path / "empty").mkdir()
    _expect(tmp_path / "empty", "student.json is missing")
    (artifact / "model.safetensors").unlink()
    _expect(artifact, "model.safetensors", "missing")


def test_truncated_weights(artifact: Path):
    w = artifact / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-100])
    _expect(artifact, str(w), "sha256 mismatch")


def test_flipped_byte_in_weights(artifact: Path):
    w = artifact / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[len(data) // 2] ^= 0xFF
    w.write_bytes(bytes(data))
    _expect(artifact, "sha256 mismatch")


def test_garbage_weights_with_matching_checksum(artifact: Path):
    import hashlib

    w = artifact / "model.safetensors"
    good = w.read_bytes()
    for bad in (b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header!!}", good[: len(good) // 2], b""):
        w.write_bytes(bad)
        _edit_meta(artifact, weights__sha256=hashlib.sha256(bad).hexdigest())
        _expect(artifact, str(w), "unreadable safetensors")


def test_nan_weights_with_matching_checksum(artifact: Path):
    import hashlib

    from safetensors.torch import load_file, save_file

    w = artifact / "model.safetensors"
    tensors = load_file(str(w))
    tensors["hidden.1.bias"][0] = float("inf")
    save_file(tensors, str(w))
    _edit_meta(artifact, weights__sha256=hashlib.sha256(w.read_bytes()).hexdigest())
    _expect(artifact, "hidden.1.bias", "NaN or inf")


def test_unknown_format_version(artifact: Path):
    _edit_meta(artifact, format_version=2)
    _expect(artifact, "student.json", "format_version 2 is not supported")


def test_wrong_format_and_bad_json(artifact: Path):
    _edit_meta(artifact, format="something-else")
    _expect(artifact, "not a bert2dnn-student artifact")
    (artifact / "student.json").write_text('{"format": "bert2dnn-student", ')
    _expect(artifact, "student.json", "not valid JSON")


def test_weights_do_not_match_config(artifact: Path):
    meta = json.loads((artifact / "student.json").read_text())
    meta["model"]["hidden"] = [64, 16]
    (artifact / "student.json").write_text(json.dumps(meta))
    _expect(artifact, "model.safetensors", "hidden.0.weight", "[32, 16]", "[64, 16]")


def test_bucket_count_mismatch(artifact: Path):
    meta = json.loads((artifact / "student.json").read_text())
    meta["featurizer"]["num_buckets"] = 2048
    meta["num_buckets"] = 2048
    (artifact / "student.json").write_text(json.dumps(meta))
    _expect(artifact, "embedding.weight", "[4096, 16]", "[2048, 16]")
    meta["num_buckets"] = 4096
    (artifact / "student.json").write_text(json.dumps(meta))
    _expect(artifact, "num_buckets")


def test_bad_config_and_labels_in_meta(artifact: Path):
    meta = json.loads((artifact / "student.json").read_text())
    meta["model"]["pooling"] = "max"
    (artifact / "student.json").write_text(json.dumps(meta))
    _expect(artifact, "student.json", "pooling")
    meta["model"]["pooling"] = "sqrtn"
    meta["label_names"] = ["a", "b"]
    (artifact / "student.json").write_text(json.dumps(meta))
    _expect(artifact, "label_names")


def test_onnx_corruption(artifact: Path):
    s = Student.load(artifact)
    s.export_onnx()
    onnx_file = artifact / "model.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:1000])
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        OnnxStudent.load(artifact)
    onnx_file.unlink()
    with pytest.raises(ArtifactError, match="missing"):
        OnnxStudent.load(artifact)


@pytest.mark.parametrize("pooling", ["sqrtn", "mean", "sum"])
@pytest.mark.parametrize("hidden", [[32, 16], [8, 16], []], ids=["wide", "folded", "linear"])
def test_predict_one_numpy_path_matches_torch(pooling, hidden):
    """predict_one runs in NumPy: same probabilities as the PyTorch forward_one, every pooling,
    the empty bag (no features) included; a first layer no wider than the embedding (or the head
    of a linear student) is folded into the table, a wider one is not."""
    from bert2dnn_ray.student.serve import _NumpyForward

    net = _net(pooling, cfg=MCFG.model_copy(update={"hidden": hidden}))
    s = Student(net, Featurizer(FCFG), LABELS)
    fast = _NumpyForward(net)
    width = (hidden or [3])[0]
    assert fast.folded == (width <= MCFG.embedding_dim)
    assert fast.table.shape == (4096, width if fast.folded else MCFG.embedding_dim)
    for t, p in [*zip(TEXTS, PAIRS), ("", None)]:
        ids = s.featurizer.ids(t, p)
        with torch.no_grad():
            want = torch.softmax(net.forward_one(torch.from_numpy(ids))[0], -1).numpy()
        got = fast(ids)
        assert got.dtype == np.float32 and got.shape == (3,)
        tol = 1e-5 if fast.folded else 1e-6  # folding sums the products in another order
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)
        np.testing.assert_allclose(s.predict_one(t, p), want, rtol=0, atol=tol)
    assert fast(np.array([], dtype=np.int64)).sum() == pytest.approx(1.0)


WORD_CFGS = [
    FeaturizerConfig(num_buckets=4096),
    FeaturizerConfig(num_buckets=1 << 20, word_ngrams=[1, 2, 3], hash_seed=7),
    FeaturizerConfig(num_buckets=977, word_ngrams=[2, 5], boundary_tokens=False, lowercase=False),
    FeaturizerConfig(num_buckets=4096, word_ngrams=[3], max_features=4),
]


@pytest.mark.parametrize("fcfg", WORD_CFGS, ids=["default", "trigrams", "no-boundary", "max-features"])
def test_compiled_path_has_the_featurizers_ids(fcfg):
    """The compiled one-text path hashes word n-grams itself: the same ids, in the same order, with
    the same cut and <empty> id as Featurizer.ids, on every kind of text."""
    from bert2dnn_ray.student import compiled
    from bert2dnn_ray.student.serve import _NumpyForward

    f = Featurizer(fcfg)
    c = compiled.CompiledForward(f, _NumpyForward(_net(buckets=fcfg.num_buckets)))
    texts = [
        *TEXTS,
        *PAIRS,
        "x",
        "the the the the the the",
        "ünïcödé wörds",
        "tab\tand\nnewline",
        "it 's a charming , often affecting journey . ",
        "rock'n'roll -- a-b- 'x' ,;:!? A_B",
        "MiXeD CaSe iPhone-15",
    ]
    for t in texts * 2:  # the second pass reads the token caches
        np.testing.assert_array_equal(c.ids(t), f.ids(t), err_msg=repr(t))


@pytest.mark.parametrize("pooling", ["sqrtn", "mean", "sum"])
@pytest.mark.parametrize("hidden", [[32, 16], [8, 16], []], ids=["wide", "folded", "linear"])
def test_predict_one_compiled_path_matches_torch(pooling, hidden, monkeypatch):
    """A bag student over word n-grams serves predict_one compiled: PyTorch's probabilities; a
    featurizer with char n-grams, a pair, or BERT2DNN_COMPILED=0 keep the NumPy path."""
    from bert2dnn_ray.student.compiled import CompiledForward

    fcfg = FeaturizerConfig(num_buckets=4096)
    net = _net(pooling, cfg=MCFG.model_copy(update={"hidden": hidden}))
    s = Student(net, Featurizer(fcfg), LABELS)
    for t in [*TEXTS, "x"]:
        with torch.no_grad():
            want = torch.softmax(net.forward_one(torch.from_numpy(s.featurizer.ids(t)))[0], -1).numpy()
        got = s.predict_one(t)
        assert got.dtype == np.float32 and got.shape == (3,)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert isinstance(s._compiled, CompiledForward)
    with pytest.raises(DataError, match="text must be a string"):
        s.predict_one(None)  # type: ignore[arg-type]
    np.testing.assert_allclose(
        s.predict_one(TEXTS[0], PAIRS[0]), s.predict([TEXTS[0]], [PAIRS[0]])[0], rtol=0, atol=1e-5
    )
    assert Student(net, Featurizer(FCFG), LABELS)._build_compiled() is False  # char n-grams
    monkeypatch.setenv("BERT2DNN_COMPILED", "0")
    assert Student(net, Featurizer(fcfg), LABELS)._build_compiled() is False


# ------------------------------------------------------------------------ cnn / bilstm encoders
SEQ_FCFG = FeaturizerConfig(num_buckets=4096, word_ngrams=[1])
SEQ_CFGS = {
    "cnn": StudentModelConfig(
        encoder="cnn", embedding_dim=8, encoder_width=6, cnn_windows=[1, 2, 3], hidden=[16], num_labels=3
    ),
    "bilstm": StudentModelConfig(
        encoder="bilstm", embedding_dim=8, encoder_width=5, hidden=[16], num_labels=3
    ),
}


@pytest.mark.parametrize("encoder", ["cnn", "bilstm"])
def test_sequence_encoders_batched_padded_and_single_paths_agree(encoder):
    """The trainer's flat batch (padded after each text), the ONNX layout (padding ids anything) and the
    one-text path are the same function, for texts of one feature up to the longest."""
    net = _net(cfg=SEQ_CFGS[encoder])
    f = Featurizer(SEQ_FCFG)
    for pairs in (PAIRS, None):
        ids, offsets = f.batch(TEXTS, pairs)
        lens = np.diff(np.append(offsets, len(ids)))
        assert lens.min() <= 2 and lens.max() > 40
        with torch.no_grad():
            logits = net(torch.from_numpy(ids), torch.from_numpy(offsets))
            pooled = net.pool(torch.from_numpy(ids), torch.from_numpy(offsets))
            assert logits.shape == (len(TEXTS), 3) and pooled.shape == (
                len(TEXTS),
                SEQ_CFGS[encoder].encoded_dim(),
            )
            width = int(lens.max()) + 3
            pids = torch.full((len(TEXTS), width), 7, dtype=torch.int64)
            mask = torch.zeros((len(TEXTS), width))
            for i, (s, n) in enumerate(zip(offsets, lens)):
                pids[i, :n] = torch.from_numpy(ids[s : s + n])
                mask[i, :n] = 1
            torch.testing.assert_close(net.forward_padded(pids, mask), logits, rtol=1e-5, atol=1e-5)
            for i, t in enumerate(TEXTS):
                one = net.forward_one(torch.from_numpy(f.ids(t, None if pairs is None else pairs[i])))
                torch.testing.assert_close(one, logits[i : i + 1], rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # word order matters to these encoders (a bag gives both the same logits)
        ab, ba = (net.forward_one(torch.from_numpy(f.ids(t))) for t in ("not good , bad", "bad , not good"))
    assert (ab - ba).abs().max() > 1e-4


@pytest.mark.parametrize("encoder", ["cnn", "bilstm"])
def test_sequence_encoders_padding_changes_no_gradient(encoder):
    """Training runs the encoders over padded batches: every weight's gradient from a batch of
    texts of very different lengths equals the sum of the texts' gradients one by one, and no
    embedding row but the texts' own gets any."""
    net = _net(cfg=SEQ_CFGS[encoder])
    net.embedding.sparse = False
    f = Featurizer(SEQ_FCFG)
    ids, offsets = f.batch(TEXTS)
    net.zero_grad()
    net(torch.from_numpy(ids), torch.from_numpy(offsets)).sum().backward()
    batched = {n: p.grad.clone() for n, p in net.named_parameters()}
    net.zero_grad()
    for t in TEXTS:
        net.forward_one(torch.from_numpy(f.ids(t))).sum().backward()
    for n, p in net.named_parameters():
        torch.testing.assert_close(batched[n], p.grad, rtol=1e-4, atol=1e-5, msg=n)
    touched = batched["embedding.weight"].abs().sum(1).nonzero()[:, 0]
    assert set(touched.tolist()) <= set(ids.tolist())


def test_bilstm_encoder_is_a_bidirectional_lstm_max_and_mean_pooled():
    from bert2dnn_ray.student.encoders import bilstm

    net = _net(cfg=SEQ_CFGS["bilstm"])
    ref = torch.nn.LSTM(8, 5, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(ref, name).copy_(getattr(net.lstm, name))
            getattr(ref, name + "_reverse").copy_(getattr(net.lstm_reverse, name))
        ids = torch.from_numpy(Featurizer(SEQ_FCFG).ids("the plot is thin but the actors are superb"))
        out, _ = ref(net.embedding(ids).unsqueeze(0))
        want = torch.cat([out.amax(1), out.mean(1)], -1)
        got = bilstm.encode(net, net.embedding(ids).unsqueeze(0), torch.tensor([len(ids)]))
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_cnn_encoder_by_hand():
    """Window 2 over [e0, e1, e2] (zero padding on the left): max over t of relu(W [e_t-1; e_t] + b)."""
    cfg = StudentModelConfig(
        encoder="cnn", embedding_dim=2, encoder_width=1, cnn_windows=[2], hidden=[], num_labels=2
    )
    net = StudentNet(cfg, 10)
    with torch.no_grad():
        net.embedding.weight.copy_(torch.arange(20, dtype=torch.float32).reshape(10, 2))
        net.convs[0].weight.copy_(torch.tensor([[[1.0, -1.0], [0.5, 0.0]]]))  # [out, in, k]
        net.convs[0].bias.fill_(-3.0)
        e = net.embedding.weight[[4, 1, 3]]  # e_t = [2i, 2i+1]
        prev = torch.cat([torch.zeros(1, 2), e[:-1]])
        w = net.convs[0].weight[0]
        want = torch.relu(prev @ w[:, 0] + e @ w[:, 1] - 3.0).max()
        got = net.pool(torch.tensor([4, 1, 3]), torch.tensor([0]))
    assert got.shape == (1, 1) and float(got) == pytest.approx(float(want)) and float(want) > 0


def test_encoder_settings_are_checked():
    from bert2dnn_ray.config import build

    for bad, msg in (
        ({"encoder_width": 32}, "encoder_width: not used by encoder bag"),
        ({"encoder": "cnn", "pooling": "mean"}, "pooling: not used by encoder cnn"),
        ({"encoder": "bilstm", "cnn_windows": [2]}, "cnn_windows: not used by encoder bilstm"),
        ({"encoder": "cnn", "cnn_windows": []}, "cnn_windows"),
        ({"encoder": "rnn"}, "encoder"),
    ):
        with pytest.raises(ConfigError, match=msg):
            build(StudentModelConfig, bad, source="model")
    for cfg in SEQ_CFGS.values():  # a saved config (every field listed) loads back
        assert StudentModelConfig.model_validate(cfg.model_dump(mode="json")) == cfg
    assert SEQ_CFGS["cnn"].encoded_dim() == 18 and SEQ_CFGS["bilstm"].encoded_dim() == 20


@pytest.mark.parametrize("encoder", ["cnn", "bilstm"])
def test_sequence_student_artifact_serves_in_torch_onnx_and_int8(tmp_path: Path, encoder):
    cfg = SEQ_CFGS[encoder]
    path = save_student(tmp_path / encoder, _net(cfg=cfg), SEQ_FCFG, cfg, LABELS)
    s = Student.load(path)
    assert s.model.encoder == encoder and s.meta["model"].encoder == encoder
    probs = s.predict(TEXTS, PAIRS)
    assert np.ptp(probs[:, 0]) > 1e-3
    singles = np.stack([s.predict_one(t, p) for t, p in zip(TEXTS, PAIRS)])
    np.testing.assert_allclose(singles, probs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(s.predict(TEXTS, PAIRS, precision="bfloat16"), probs, rtol=0, atol=0.05)
    s.export_onnx()  # checked against PyTorch (1e-5) before it is kept
    o = OnnxStudent.load(path)
    texts, pairs = TEXTS * 5, PAIRS * 5
    np.testing.assert_allclose(
        o.predict(texts, pairs, batch_size=7), s.predict(texts, pairs), rtol=0, atol=1e-5
    )
    for t, p in zip(TEXTS, PAIRS):
        np.testing.assert_allclose(o.predict_one(t, p), s.predict_one(t, p), rtol=0, atol=1e-5)
    rec = s.export_onnx_int8(texts, pairs, tolerance=0.05)  # the dense layers only: conv / LSTM stay float32
    assert 0 < rec["max_abs_diff"] <= 0.05 and rec["argmax_agreement"] >= 0.9
    q = OnnxStudent.load(path, precision="int8")
    assert np.abs(q.predict(TEXTS, PAIRS) - probs).max() <= 0.05


@pytest.mark.parametrize("encoder", ["cnn", "bilstm"])
def test_sequence_encoders_train_only_the_embedding_rows_of_real_ids(encoder):
    # Padding is laid out after the embedding lookup, so a sparse gradient (what the trainer uses)
    # touches exactly the texts' own buckets: no padding bucket gets optimizer updates.
    net = _net(cfg=SEQ_CFGS[encoder]).train()
    net.embedding.sparse = True
    ids, offsets = Featurizer(SEQ_FCFG).batch(["a b c d e f g", "x", "y z"])
    net(torch.from_numpy(ids), torch.from_numpy(offsets)).sum().backward()
    touched = net.embedding.weight.grad.coalesce().indices()[0]
    assert sorted(touched.tolist()) == sorted(set(ids.tolist())) and 0 not in set(ids.tolist())
