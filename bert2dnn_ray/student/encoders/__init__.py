"""The student's encoders: how a text's feature embeddings become one vector.

Each encoder is a module of functions over the :class:`~bert2dnn_ray.student.model.StudentNet` that
owns the parameters (so the weight names of the artifact format are the network's, whatever the
encoder): ``build`` makes the embedding and the encoder's layers on the net, ``shapes`` names their
tensors from the config alone, ``pool`` encodes a flat batch ``(ids, offsets)``, ``one`` one text's
ids, ``padded`` a padded ``[B, L]`` batch with its mask (the ONNX form). ``encoded_dim`` is the width
of the vector; ``settings`` the config keys the encoder reads; ``sequence`` whether it reads the ids
in text order (and so wants length-grouped batches, ``group_by_length``).
"""

from __future__ import annotations

from types import ModuleType

from . import bag, bilstm, cnn

ENCODERS: dict[str, ModuleType] = {"bag": bag, "cnn": cnn, "bilstm": bilstm}


def get(name: str) -> ModuleType:
    return ENCODERS[name]
