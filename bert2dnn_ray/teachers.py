"""Teacher inference: tokenise, length-aware batch, run, return logits. Shared by labeling
(inside Ray actors), stacking and evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
from pydantic import Field

from . import hf, io
from .config import Strict
from .errors import ConfigError, one_line

PAD_MULTIPLE = 8  # batch_invariant: rows are padded to their own length rounded up to this


class TeacherSpec(Strict):
    """A fine-tuned sequence-classification teacher used for labeling / evaluation."""

    name: str = Field(description="short name; output columns are <name>_logits, <name>_probs_t<T>")
    path: str = Field(description="hub id, local directory, or 'minilm'")
    max_length: int = Field(128, ge=8, description="tokens; longer inputs are truncated and flagged")
    batch_size: int = Field(128, ge=1)
    dtype: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: fp32 on a CPU; on a GPU bf16 where it has bf16 units, else fp16"
    )
    weight: float = Field(1.0, ge=0, description="weight in 'weighted' stacking")
    batch_invariant: bool = Field(
        False,
        description="each text's logits depend on the text alone, never on its batch neighbours (rows padded to "
        f"their own length rounded up to {PAD_MULTIPLE} tokens, batches filled to batch_size): two runs, or a label "
        "store's reused labels and a full relabel, agree bit for bit; costs a little padding",
    )


def specs_from_finetune(ft: Any, overrides: Mapping[str, Any] | None = None) -> list[TeacherSpec]:
    """The fine-tuned teachers of ``ft`` (a ``FinetuneConfig``: its ``teachers`` and ``output_dir``;
    not imported, so that running a teacher needs nothing of fine-tuning) as specs for labeling and
    evaluation: each with the max_length it was trained with, unless ``overrides`` (TeacherSpec keys,
    e.g. max_length, batch_size, dtype) set it and more for every teacher."""
    return [
        TeacherSpec(
            name=t.name,
            path=io.join(ft.output_dir, t.name),
            **{"max_length": t.max_length, **(overrides or {})},
        )
        for t in ft.teachers
    ]


def model_num_labels(spec: TeacherSpec, trust_remote_code: bool = False) -> int:
    """Read the teacher's class count from its config (cheap; fails with one line if unloadable)."""
    from transformers import AutoConfig

    path = hf.resolve_model(spec.path)
    try:
        return int(AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code).num_labels)
    except Exception as e:
        raise ConfigError(f"teacher '{spec.name}': cannot load {spec.path!r} ({one_line(e)})") from None


def resolve_dtype(dtype: str, device_type: str) -> str:
    """``auto``: fp32 on a CPU; on a GPU bf16 where it has bf16 units (Ampere and later), else fp16."""
    if dtype != "auto":
        return dtype
    if device_type != "cuda":
        return "fp32"
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def warn_emulated_bf16(name: str) -> bool:
    """Log one line (and return True) when teacher ``name`` is to run bf16 on a CPU whose flags
    show no bf16 units: emulated there, bf16 is several times slower than fp32 (MiniLM on a 2-core
    AVX2 EPYC: 18 against 99 sentences/s), where such units make it ~2.5x faster."""
    from .runtime import BF16_FLAGS, cpu_flags

    flags = cpu_flags()
    if flags is None or flags & BF16_FLAGS:
        return False
    from .progress import log

    log(
        "teacher",
        f"teacher '{name}': dtype bf16 on a CPU without bf16 units (AMX, AVX-512 BF16, Arm BF16): "
        "emulated, several times slower than fp32 here; set dtype: fp32 (or auto)",
    )
    return True


def capped_max_length(spec: TeacherSpec, model_config) -> int:
    """``max_length``, capped (with a log line) at the model's position limit: longer inputs would
    index past its position embeddings."""
    limit = getattr(model_config, "max_position_embeddings", None)
    if isinstance(limit, int) and 0 < limit < spec.max_length:
        from .progress import log

        log(
            "teacher",
            f"teacher '{spec.name}': max_length {spec.max_length} is more than the model's {limit} positions; using {limit}",
        )
        return limit
    return spec.max_length


class TeacherRunner:
    """One loaded teacher. ``logits(texts, pairs)`` → (float32 [N, K], truncated bool [N])."""

    def __init__(
        self,
        spec: TeacherSpec,
        device: str = "cpu",
        trust_remote_code: bool = False,
        prefetch: bool | None = None,
    ):
        import torch

        self.spec = spec
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            # Never label on the CPU while holding a GPU reservation: say so at once.
            raise ConfigError(
                f"teacher '{spec.name}': a GPU was asked for, but torch {torch.__version__} sees no CUDA "
                "device here; install a CUDA build of torch on the GPU nodes, or label on CPUs "
                "(num_gpus_per_actor: 0)"
            )
        # Tokenise the next batch on a helper thread while the current one runs: on by default on
        # a GPU (the GPU would otherwise wait for the tokenizer), off on CPU (same cores).
        self.prefetch = self.device.type == "cuda" if prefetch is None else prefetch
        self.dtype = resolve_dtype(spec.dtype, self.device.type)
        if self.device.type == "cpu" and self.dtype == "bf16":
            warn_emulated_bf16(spec.name)
        self.tokenizer = hf.load_tokenizer(spec.path, trust_remote_code)
        self.model = hf.load_classifier(
            spec.path,
            trust_remote_code=trust_remote_code,
            dtype=hf.torch_dtype(self.dtype),
            require_head=True,
        )
        self.model.to(self.device).eval()
        self.max_length = capped_max_length(spec, self.model.config)
        self.num_labels = int(self.model.config.num_labels)
        self.label_names = [self.model.config.id2label.get(i, str(i)) for i in range(self.num_labels)]

    def _encode(self, texts: list[str], pairs: list[str] | None):
        """Tokenise a batch padded to its longest row; rows over max_length are re-tokenised
        truncated (Rust-only work), and flagged."""
        import torch

        L = self.max_length
        enc = self.tokenizer(
            texts, pairs, truncation=False, padding="longest", return_tensors="pt", verbose=False
        )
        mask = enc["attention_mask"]
        lengths = mask.sum(1)
        over = lengths > L
        if not bool(over.any()):
            return enc, over.numpy()
        idx = torch.nonzero(over).flatten().tolist()
        sub = self.tokenizer(
            [texts[i] for i in idx],
            [pairs[i] for i in idx] if pairs else None,
            truncation=True,
            max_length=L,
            padding="max_length",
            return_tensors="pt",
        )
        out = {}
        for k in enc.keys():
            t = enc[k][:, :L].clone()
            t[idx] = sub[k]
            out[k] = t
        return out, over.numpy()

    def logits(
        self, texts: Sequence[str], pairs: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        import torch

        n = len(texts)
        out = np.empty((n, self.num_labels), dtype=np.float32)
        truncated = np.zeros(n, dtype=bool)
        if n == 0:
            return out, truncated
        if self.spec.batch_invariant:
            return self._invariant_logits(texts, pairs, out, truncated)
        # Length-aware batching: sort by character length so each batch pads little.
        char_len = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
        if pairs is not None:
            char_len += np.fromiter((len(p) for p in pairs), dtype=np.int64, count=n)
        order = np.argsort(char_len, kind="stable")
        bs = self.spec.batch_size
        starts = list(range(0, n, bs))

        def prepare(s: int):
            idx = order[s : s + bs]
            bt = [texts[i] for i in idx]
            bp = [pairs[i] for i in idx] if pairs is not None else None
            enc, over = self._encode(bt, bp)
            if self.device.type == "cuda":
                enc = {k: v.pin_memory() for k, v in enc.items()}
            return idx, enc, over

        def batches():
            """Prepared batches in order. With prefetch, the next one is tokenised (Rust, GIL
            released) on a helper thread while the caller runs the current one."""
            if not self.prefetch or len(starts) < 2:
                yield from map(prepare, starts)
                return
            with ThreadPoolExecutor(1) as pool:
                nxt = pool.submit(prepare, starts[0])
                for s in starts[1:]:
                    cur, nxt = nxt.result(), pool.submit(prepare, s)
                    yield cur
                yield nxt.result()

        with torch.inference_mode():
            for idx, enc, over in batches():
                enc = {k: v.to(self.device, non_blocking=True) for k, v in enc.items()}
                out[idx] = self.model(**enc).logits.float().cpu().numpy()
                truncated[idx] = over
        return out, truncated

    def _invariant_logits(
        self, texts: Sequence[str], pairs: Sequence[str] | None, out: np.ndarray, truncated: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``batch_invariant``: every batch has the same shape wherever a text lands: ``batch_size``
        rows (the last one filled with copies of its first row), all padded to the same multiple of
        :data:`PAD_MULTIPLE` tokens, the rows' own length rounded up. Each row's arithmetic is then
        the same in any run, whoever its neighbours are."""
        import torch

        L = self.max_length
        enc = self.tokenizer(
            list(texts), list(pairs) if pairs is not None else None, truncation=False, verbose=False
        )
        keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
        rows = {k: list(enc[k]) for k in keys}
        over = np.fromiter((len(x) > L for x in rows["input_ids"]), dtype=bool, count=len(texts))
        if over.any():
            idx = np.flatnonzero(over).tolist()
            sub = self.tokenizer(
                [texts[i] for i in idx],
                [pairs[i] for i in idx] if pairs is not None else None,
                truncation=True,
                max_length=L,
            )
            for k in keys:
                for j, i in enumerate(idx):
                    rows[k][i] = sub[k][j]
        lengths = np.fromiter((len(x) for x in rows["input_ids"]), dtype=np.int64, count=len(texts))
        padded = np.minimum(-(-lengths // PAD_MULTIPLE) * PAD_MULTIPLE, max(L, 1))
        pad_id = self.tokenizer.pad_token_id or 0
        bs = self.spec.batch_size
        with torch.inference_mode():
            for width in np.unique(padded):
                members = np.flatnonzero(padded == width)
                for s in range(0, len(members), bs):
                    idx = members[s : s + bs]
                    full = np.concatenate([idx, np.full(bs - len(idx), idx[0])])
                    batch = {}
                    for k in keys:
                        arr = np.full((bs, int(width)), pad_id if k == "input_ids" else 0, dtype=np.int64)
                        for r, i in enumerate(full):
                            arr[r, : lengths[i]] = rows[k][i]
                        batch[k] = torch.from_numpy(arr).to(self.device)
                    out[idx] = self.model(**batch).logits.float().cpu().numpy()[: len(idx)]
        truncated[:] = over
        return out, truncated
