"""bert2dnn-ray: distill BERT-class teachers into tiny feed-forward students on Ray."""

__version__ = "0.1.0"


def __getattr__(name: str):  # lazy: `import bert2dnn_ray` stays cheap (no torch/ray import)
    if name in ("Student", "OnnxStudent"):
        from . import student

        return getattr(student, name)
    raise AttributeError(name)
