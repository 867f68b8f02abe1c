"""The student in ONNX: export from PyTorch (``model.onnx``, verified against it), int8 dynamic
quantization of its dense layers (``model.int8.onnx``, checked within a tolerance), and
:class:`OnnxStudent`, the same serving API on onnxruntime (CPU)."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import io
from ..errors import ArtifactError, DataError, one_line
from ..featurizer import Featurizer
from .artifact import (
    INT8_TOLERANCE,
    META_FILE,
    ONNX_FILE,
    ONNX_INT8_FILE,
    ONNX_OPSET,
    ONNX_VARIANTS,
    WEIGHTS_FILE,
    _sha256,
    read_meta,
    record_export,
)
from .model import StudentNet
from .servable import Servable, check_texts, padded, probe_texts


def export_onnx(student: Any, path: str | os.PathLike | None = None, opset: int = ONNX_OPSET) -> Path:
    """Export a :class:`~.serve.Student` to ONNX (inputs ``ids`` [B, L] int64 and ``mask`` [B, L]
    float32; outputs ``logits`` and ``probs``), check onnxruntime against PyTorch, return the path.

    By default writes ``model.onnx`` into the artifact directory and records it in ``student.json``
    so :class:`OnnxStudent` can load it.
    """
    if path is None:
        if student.path is None:
            raise ArtifactError("export_onnx(): this student was not loaded from disk; pass a path")
        target = student.path / ONNX_FILE
    else:
        target = Path(path)
        if target.is_dir():
            target = target / ONNX_FILE
    with io.atomic_path(target) as tmp:
        _export(student.model, tmp, opset)
        got, want = _session_and_torch_probs(student, _ort_session(tmp), probe_texts())
        err = float(np.abs(got - want).max())
        if not err <= 1e-5:
            raise ArtifactError(f"{tmp}: ONNX export differs from PyTorch by {err:.3g} (> 1e-5)")
    if student.path is not None and target.resolve() == (student.path / ONNX_FILE).resolve():
        read_meta(student.path)  # the artifact on disk is still valid before its meta is rewritten
        record_export(
            student.path, student.meta, "onnx", {"file": ONNX_FILE, "sha256": _sha256(target), "opset": opset}
        )
    return target


def _session_and_torch_probs(
    student: Any, session, texts: Sequence[str], pairs: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of ``texts`` from an onnxruntime session and from the student's PyTorch model."""
    ids, offsets = student.featurizer.batch(texts, pairs)
    pids, mask = padded(ids, offsets)
    got = session.run(["probs"], {"ids": pids, "mask": mask})[0]
    with torch.inference_mode():
        want = torch.softmax(student.model(torch.from_numpy(ids), torch.from_numpy(offsets)), -1).numpy()
    return got, want


def export_onnx_int8(
    student: Any,
    check_texts: Sequence[str] = (),
    check_pairs: Sequence[str] | None = None,
    tolerance: float = INT8_TOLERANCE,
) -> dict[str, Any]:
    """Write ``model.int8.onnx``: the ONNX student with its dense layers quantized to int8.

    onnxruntime's dynamic quantization: each MatMul's weights become int8 (one scale per
    output channel), its input is quantized per batch at run time; the embedding table, the
    pooling and the softmax stay float32. On a CPU with VNNI / AMX int8 this runs BERT2DNN's
    1024-512-128-64 student several times faster than float32 (its 2.6 MB of float32 dense
    weights shrink to 0.66 MB, which stay in cache). Exports ``model.onnx`` first if needed.

    Checked before it is kept: on the probe texts plus ``check_texts`` (and ``check_pairs``
    for a pair student) the int8 probabilities may differ from PyTorch's by at most
    ``tolerance``; the measured difference and the argmax agreement are recorded in
    ``student.json`` (``onnx_int8``) and returned. The activations' scale is set per batch,
    so a text's probabilities move slightly (within the tolerance) with the batch it is in.
    """
    if student.path is None:
        raise ArtifactError("export_onnx_int8(): this student was not loaded from disk")
    if not tolerance > 0:
        raise ArtifactError(f"export_onnx_int8(): tolerance must be > 0, got {tolerance}")
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:  # pragma: no cover - onnxruntime is a declared dependency
        raise ArtifactError("onnxruntime.quantization is not available; install onnxruntime") from None
    texts = probe_texts() + list(check_texts)
    pairs = None
    if student.text_fields.get("pair"):  # a pair student: check texts are paired with probes
        pairs = probe_texts()[::-1] + list(check_pairs if check_pairs is not None else check_texts)
        if len(pairs) != len(texts):
            raise ArtifactError("export_onnx_int8(): check_pairs must match check_texts in length")
    d = student.path
    if not isinstance(student.meta.get("onnx"), dict) or not (d / ONNX_FILE).is_file():
        export_onnx(student)
    target = d / ONNX_INT8_FILE
    with io.atomic_path(target) as tmp:
        # The quantizer logs advice on the root logger ("consider pre-processing": a
        # no-op for this graph); keep it out of the user's logs without configuring them.
        muted = logging.root.manager.disable
        logging.disable(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                quantize_dynamic(
                    str(d / ONNX_FILE),
                    str(tmp),
                    op_types_to_quantize=["MatMul", "Gemm"],
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    # 7-bit weights: no int16 saturation in the u8 x s8 kernels of CPUs
                    # without VNNI (AVX2), so the check made here holds on any x86 server.
                    reduce_range=True,
                )
            except Exception as e:
                raise ArtifactError(f"{target}: int8 quantization failed ({one_line(e)})") from None
            finally:
                logging.disable(muted)
        got, want = _session_and_torch_probs(student, _ort_session(tmp), texts, pairs)
        err = float(np.abs(got - want).max())
        agree = float((got.argmax(1) == want.argmax(1)).mean())
        if not err <= tolerance:
            raise ArtifactError(
                f"{target}: int8 probabilities differ from PyTorch by {err:.3g} (> {tolerance:g}) "
                f"on {len(texts)} check texts; serve float32 (model.onnx) or raise the tolerance"
            )
    return record_export(
        student.path,
        student.meta,
        "onnx_int8",
        {
            "file": ONNX_INT8_FILE,
            "sha256": _sha256(target),
            "quantization": "dynamic: MatMul weights int8 per channel (7-bit range), inputs uint8 per batch",
            "check_texts": len(texts),
            "max_abs_diff": err,
            "argmax_agreement": agree,
        },
    )


class _PaddedProbs(torch.nn.Module):
    def __init__(self, model: StudentNet):
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, mask: torch.Tensor):
        logits = self.model.forward_padded(ids, mask)
        return logits, torch.softmax(logits, dim=-1)


def _export(model: StudentNet, target: Path, opset: int) -> None:
    wrapper = _PaddedProbs(model).eval()
    example = (torch.zeros((2, 3), dtype=torch.int64), torch.ones((2, 3), dtype=torch.float32))
    kwargs = dict(
        input_names=["ids", "mask"],
        output_names=["logits", "probs"],
        opset_version=opset,
        dynamic_axes={
            "ids": {0: "batch", 1: "length"},
            "mask": {0: "batch", 1: "length"},
            "logits": {0: "batch"},
            "probs": {0: "batch"},
        },
        do_constant_folding=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            try:
                # The TorchScript exporter needs no onnxscript and handles this graph (gather +
                # masked sum + MLP) exactly; newer torch defaults to the dynamo exporter.
                torch.onnx.export(wrapper, example, str(target), dynamo=False, **kwargs)
            except TypeError:  # a torch without the ``dynamo`` switch
                torch.onnx.export(wrapper, example, str(target), **kwargs)
            except Exception as e:
                raise ArtifactError(f"{target}: ONNX export failed ({one_line(e)})") from None


def _ort_session(path: Path, threads: int | None = None):
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - onnxruntime is a declared dependency
        raise ArtifactError("onnxruntime is not installed; it is needed to run model.onnx") from None
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads is not None:  # e.g. 1 for a one-core server; None: onnxruntime's default pool
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise ArtifactError(f"{path}: onnxruntime cannot load the model ({one_line(e)})") from None


class OnnxStudent(Servable):
    """The same API as :class:`Student`, running ``model.onnx`` with onnxruntime (CPU)."""

    def __init__(self, session, featurizer: Featurizer, label_names: Sequence[str], meta=None, path=None):
        super().__init__(featurizer, label_names, meta, path)
        self._session = session
        names = {i.name for i in session.get_inputs()}
        outs = {o.name for o in session.get_outputs()}
        if names != {"ids", "mask"} or "probs" not in outs:
            raise ArtifactError(
                f"{path}: model.onnx has inputs {sorted(names)} / outputs {sorted(outs)}, "
                "expected ids, mask -> logits, probs"
            )

    @classmethod
    def load(
        cls, path: str | os.PathLike, precision: str = "float32", threads: int | None = None
    ) -> OnnxStudent:
        """Load ``model.onnx`` (``precision="float32"``) or ``model.int8.onnx`` (``"int8"``).

        ``threads``: onnxruntime intra/inter-op threads (1 for a one-core server); default: its own.
        """
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise DataError(f"OnnxStudent.load: threads must be a positive integer, got {threads!r}")
        if precision not in ONNX_VARIANTS:
            raise DataError(
                f"OnnxStudent.load: precision must be one of {', '.join(ONNX_VARIANTS)}, got {precision!r}"
            )
        file, key = ONNX_VARIANTS[precision]
        how = "export_onnx()" if precision == "float32" else "export_onnx_int8()"
        d, meta = read_meta(path)
        opath = d / file
        rec = meta.get(key)
        if not opath.is_file():
            raise ArtifactError(f"{opath}: missing; export it first with Student.load(...).{how}")
        if not isinstance(rec, dict) or not isinstance(rec.get("sha256"), str):
            raise ArtifactError(f"{d / META_FILE}: {file} is not recorded; re-run {how}")
        if rec.get("weights_sha256") != meta["weights"]["sha256"]:
            raise ArtifactError(f"{opath}: exported from different weights than {WEIGHTS_FILE}; re-run {how}")
        got = _sha256(opath)
        if got != rec["sha256"]:
            raise ArtifactError(
                f"{opath}: sha256 mismatch (student.json records {rec['sha256'][:12]}..., the file has "
                f"{got[:12]}...); the file is corrupt, truncated or was replaced"
            )
        session = _ort_session(opath, threads)
        return cls(session, Featurizer(meta["featurizer"]), meta["label_names"], meta=meta, path=d)

    @property
    def session(self):
        return self._session

    def _run(self, ids: np.ndarray, offsets: np.ndarray, output: str) -> np.ndarray:
        pids, mask = padded(ids, offsets)
        return self._session.run([output], {"ids": pids, "mask": mask})[0]

    def logits(
        self, texts: Sequence[str], pairs: Sequence[str] | None = None, batch_size: int = 4096
    ) -> np.ndarray:
        return self._predict(texts, pairs, batch_size, "logits")

    def predict(
        self, texts: Sequence[str], pairs: Sequence[str] | None = None, batch_size: int = 4096
    ) -> np.ndarray:
        """Class probabilities [N, K] float32."""
        return self._predict(texts, pairs, batch_size, "probs")

    def _predict(self, texts, pairs, batch_size: int, output: str) -> np.ndarray:
        check_texts(texts, pairs, batch_size)
        n = len(texts)
        out = np.empty((n, self.num_labels), dtype=np.float32)
        for i in range(0, n, batch_size):
            chunk = texts[i : i + batch_size]
            pchunk = None if pairs is None else pairs[i : i + batch_size]
            ids, offsets = self._featurizer.batch(chunk, pchunk)
            out[i : i + len(chunk)] = self._run(ids, offsets, output)
        return out

    def predict_one(self, text: str, pair: str | None = None) -> np.ndarray:
        ids = self._featurizer.ids(text, pair)
        feed = {"ids": ids.reshape(1, -1), "mask": np.ones((1, len(ids)), dtype=np.float32)}
        return self._session.run(["probs"], feed)[0][0]
