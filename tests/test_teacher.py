"""Teacher fine-tuning with Ray Train on a tiny BERT: output, metrics, skip, error cases."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from raytrain_snapshot import kill_when, registered_checkpoint

from bert2dnn_ray import teacher
from bert2dnn_ray.errors import ConfigError, DataError
from bert2dnn_ray.teachers import TeacherRunner, TeacherSpec

pytestmark = pytest.mark.ray


def _data(tmp_path, n=240, seed=0):
    rng = np.random.default_rng(seed)
    pos, neg = ["great", "love", "excellent"], ["awful", "hate", "poor"]
    y = rng.integers(0, 2, n)
    texts = [f"this is {rng.choice(pos if v else neg)} stuff" for v in y]
    pq.write_table(pa.table({"text": texts, "label": y}), tmp_path / "train.parquet")
    return tmp_path / "train.parquet"


def _cfg(tmp_path, train, model, **kw):
    spec = teacher.TeacherTrainSpec(
        name="tiny", model=str(model), epochs=5, learning_rate=5e-3, batch_size=16, max_length=16
    )
    return teacher.FinetuneConfig(
        train=str(train), output_dir=str(tmp_path / "teachers"), teachers=[spec], dev_fraction=0.25, **kw
    )


@pytest.mark.parametrize(
    "labels,match",
    [
        ([0, 1, 2, 1], "out of range 0..1"),
        ([0, 1, None, 1], "row 2: label column 'label' is missing"),
        (["0", "1", "x", "1"], "row 2: label 'x'"),
        ([1, 1, 1, 1], "only one class"),
    ],
)
def test_finetune_bad_labels_fail_before_training(tmp_path, tiny_bert_factory, labels, match):
    texts = ["a b", "c d", "e f", "g h"] * 1
    pq.write_table(pa.table({"text": texts, "label": labels}), tmp_path / "t.parquet")
    cfg = _cfg(
        tmp_path, tmp_path / "t.parquet", tiny_bert_factory(2), num_labels=2 if "range" in match else None
    )
    with pytest.raises(DataError, match=match):
        teacher.run(cfg)
    assert not (tmp_path / "teachers").exists()


def test_finetune_bad_model_and_duplicate_names(tmp_path, tiny_bert_factory):
    train = _data(tmp_path, n=20)
    with pytest.raises(ConfigError, match="model path not found"):
        teacher.run(_cfg(tmp_path, train, "./does/not/exist"))
    cfg = _cfg(tmp_path, train, tiny_bert_factory(2))
    cfg.teachers = [cfg.teachers[0], cfg.teachers[0]]
    with pytest.raises(ConfigError, match="names must be unique"):
        teacher.run(cfg)


def test_finetune_learns_saves_and_resumes_after_sigkill(
    session_address, tiny_bert_factory, tmp_path, monkeypatch
):
    """Kill a fine-tune mid-run, run it again: it resumes, learns, and saves a teacher that the
    label stage loads (one test: every Ray Train fit costs ~20 s of start-up on 2 cores)."""
    train = _data(tmp_path, n=1600, seed=1)
    cfg = _cfg(tmp_path, train, tiny_bert_factory(2), label_names=["neg", "pos"])
    cfg.teachers[0].epochs = 3
    ckpts = tmp_path / "teachers" / "_checkpoints" / "finetune-tiny"
    # Kill once Ray Train has registered a checkpoint (its controller's snapshot names it):
    # resume starts from the latest registered one.
    kill_when(session_address, "finetune", cfg, tmp_path, lambda: registered_checkpoint(ckpts) is not None)
    first = json.loads(next(ckpts.glob("checkpoint_*/state.json")).read_text())
    assert not (tmp_path / "teachers" / "tiny" / "_SUCCESS.json").exists()

    out = teacher.run(cfg)  # the same command again resumes
    d = tmp_path / "teachers" / "tiny"
    assert out == {"tiny": str(d)}
    metrics = json.loads((d / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [0, 1, 2]
    # Epochs finished before the kill were not redone: their recorded results are unchanged.
    for h in first["history"]:
        assert metrics["history"][h["epoch"]]["train_loss"] == pytest.approx(h["train_loss"])
        assert metrics["history"][h["epoch"]]["train_seconds"] == h["train_seconds"]
    assert all(h["train_seconds"] > 0 for h in metrics["history"])  # each epoch's training time
    assert metrics["best"]["dev_accuracy"] >= 0.9  # the toy task is learnable in a few epochs

    # Saved as a Hugging Face checkpoint (safetensors + tokenizer), with the label names.
    assert (d / "model.safetensors").is_file() and (d / "tokenizer.json").is_file()
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(d).id2label == {0: "neg", 1: "pos"}
    # Ready for labeling: the label stage's loader reads it.
    from bert2dnn_ray.teachers import TeacherRunner, TeacherSpec

    logits, _ = TeacherRunner(TeacherSpec(name="t", path=str(d))).logits(
        ["this is great stuff", "this is awful stuff"]
    )
    assert logits.argmax(1).tolist() == [1, 0]
    # Same command once more: already trained, skipped, without starting or joining a Ray.
    mtime = (d / "model.safetensors").stat().st_mtime
    with monkeypatch.context() as m:
        m.setattr(teacher, "init_ray", lambda *a: pytest.fail("a finished teacher started Ray"))
        teacher.run(cfg)
    assert (d / "model.safetensors").stat().st_mtime == mtime
    # A copy of the training file elsewhere is the same data: skipped too. Other settings or other
    # rows are refused in one line instead of passing this teacher off as theirs.
    copy = tmp_path / "copy" / "train.parquet"
    copy.parent.mkdir()
    copy.write_bytes(train.read_bytes())
    teacher.run(cfg.model_copy(update={"train": str(copy)}))
    assert (d / "model.safetensors").stat().st_mtime == mtime
    other = cfg.model_copy(deep=True)
    other.teachers[0].learning_rate = 1e-3
    with pytest.raises(
        ConfigError,
        match=r"finetune: .*tiny was written with other settings \(learning_rate: 0.005 -> 0.001\)",
    ):
        teacher.run(other)
    flipped = pq.read_table(train).to_pydict()
    flipped["label"][0] = 1 - flipped["label"][0]
    pq.write_table(pa.table(flipped), copy)
    with pytest.raises(
        ConfigError, match=r"\((train|dev): '\d+ rows, sha256 \w+' -> '\d+ rows, sha256 \w+'\)"
    ):
        teacher.run(cfg.model_copy(update={"train": str(copy)}))


def test_group_by_length_keeps_every_row_once_and_cuts_padding():
    from bert2dnn_ray.data import group_by_length

    rng = np.random.default_rng(0)
    texts = np.array(["w " * int(n) for n in rng.integers(1, 60, size=1000)], dtype=object)
    window = {"text": texts, "label": np.arange(1000)}
    batches = group_by_length(window, 32, np.random.default_rng(1))
    labels = np.concatenate([b["label"] for b in batches])
    assert sorted(labels.tolist()) == list(range(1000))  # every row exactly once
    assert sorted(len(b["label"]) for b in batches)[1:] == [32] * 31  # 31 full batches + 1 of 8
    for b in batches:  # text and label stay aligned
        assert all(texts[i] == t for i, t in zip(b["label"], b["text"]))

    def padded(bs):
        return sum(len(b["text"]) * max(len(t) for t in b["text"]) for b in bs)

    plain = [{k: v[i : i + 32] for k, v in window.items()} for i in range(0, 1000, 32)]
    assert padded(batches) < 0.6 * padded(plain)
    # batch order is shuffled, not longest-last
    firsts = [max(len(t) for t in b["text"]) for b in batches]
    assert firsts != sorted(firsts)


# ------------------------------------------------------------------ GPU paths' CPU twins


def test_a_gpu_teacher_without_cuda_is_one_line(tiny_bert_factory):
    """A GPU reservation never labels on the CPU in silence: without CUDA, one clear line."""
    import torch

    from bert2dnn_ray.errors import ConfigError
    from bert2dnn_ray.teachers import TeacherRunner, TeacherSpec

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    spec = TeacherSpec(name="t", path=str(tiny_bert_factory(2)))
    with pytest.raises(ConfigError, match=r"teacher 't': a GPU was asked for, but torch .* sees no CUDA"):
        TeacherRunner(spec, "cuda")


def test_auto_dtype_is_bf16_only_where_the_gpu_has_it(monkeypatch):
    import torch

    from bert2dnn_ray.teachers import resolve_dtype

    assert resolve_dtype("auto", "cpu") == "fp32" and resolve_dtype("bf16", "cpu") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", "cuda") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # e.g. a T4, a V100
    assert resolve_dtype("auto", "cuda") == "fp16" and resolve_dtype("fp32", "cuda") == "fp32"


def test_cpu_flags_are_read_from_x86_and_arm_cpuinfo(tmp_path):
    from bert2dnn_ray.runtime import cpu_flags

    x86 = tmp_path / "x86"
    x86.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_bf16\n\nflags : other\n"
    )
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\nCPU implementer\t: 0x41\n")
    assert cpu_flags(str(x86)) == {"fpu", "avx2", "avx512_bf16"}  # the first CPU's
    assert cpu_flags(str(arm)) == {"fp", "asimd", "bf16"}
    assert cpu_flags(str(tmp_path / "missing")) is None


def test_bf16_on_a_cpu_without_bf16_units_is_named_in_one_line(tiny_bert_factory, monkeypatch, capsys):
    """Emulated bf16 is several times slower than fp32: the run goes on as asked, with a line."""
    from bert2dnn_ray import runtime
    from bert2dnn_ray.teachers import TeacherRunner, TeacherSpec

    path = str(tiny_bert_factory(2))
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2", "avx512f"})
    assert TeacherRunner(TeacherSpec(name="t", path=path, dtype="bf16")).dtype == "bf16"
    assert "teacher 't': dtype bf16 on a CPU without bf16 units" in capsys.readouterr().err
    for flags in ({"avx2", "avx512_bf16"}, {"avx2", "amx_bf16"}, {"asimd", "bf16"}, None):
        monkeypatch.setattr(runtime, "cpu_flags", lambda f=flags: f)
        TeacherRunner(TeacherSpec(name="t", path=path, dtype="bf16"))
        assert "without bf16 units" not in capsys.readouterr().err, flags
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2"})
    assert TeacherRunner(TeacherSpec(name="t", path=path)).dtype == "fp32"  # auto on a CPU
    assert "bf16" not in capsys.readouterr().err


def test_max_length_is_capped_at_the_models_positions(tiny_bert_factory, capsys):
    from bert2dnn_ray.teachers import TeacherRunner, TeacherSpec

    runner = TeacherRunner(TeacherSpec(name="t", path=str(tiny_bert_factory(2)), max_length=512))
    assert runner.max_length == 128  # the tiny BERT's max_position_embeddings
    assert "max_length 512 is more than the model's 128 positions; using 128" in capsys.readouterr().err
    logits, truncated = runner.logits(["word " * 400, "short"])  # would index past position 128
    assert logits.shape == (2, 2) and truncated.tolist() == [True, False]


def test_batch_invariant_logits_do_not_depend_on_the_batch(tiny_bert_factory):
    """With batch_invariant, a text's logits are the same bits whoever shares its batch, in any
    order and batch position; they match the default path's to float precision, truncation too."""
    rng = np.random.default_rng(3)
    words = "red blue wireless shoes tea organic phone case sofa lamp running size large cheap".split()
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 30))) for _ in range(500)]
    spec = TeacherSpec(name="t", path=str(tiny_bert_factory(3, seed=8)), max_length=20, batch_size=32)
    exact = TeacherRunner(spec.model_copy(update={"batch_invariant": True}))
    a, ta = exact.logits(texts[:200])
    b, tb = exact.logits(texts)
    c, _ = exact.logits(texts[::-1])
    np.testing.assert_array_equal(a, b[:200])
    np.testing.assert_array_equal(b, c[::-1])
    ref, tref = TeacherRunner(spec).logits(texts)
    np.testing.assert_allclose(b, ref, atol=1e-5)
    np.testing.assert_array_equal(tb, tref)
    assert tref.any() and not tref.all()  # some texts were cut at max_length
    np.testing.assert_array_equal(ta, tb[:200])
