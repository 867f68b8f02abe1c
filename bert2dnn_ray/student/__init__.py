"""The BERT2DNN student: the network (:mod:`.model`, :mod:`.encoders`), its training (:mod:`.train`),
the artifact format (:mod:`.artifact`) and its PyTorch and ONNX runtimes (:mod:`.serve`, :mod:`.onnx`)."""

from .artifact import (
    FORMAT_NAME,
    FORMAT_VERSION,
    META_FILE,
    METRICS_FILE,
    ONNX_FILE,
    ONNX_INT8_FILE,
    WEIGHTS_FILE,
    read_meta,
    save_student,
)
from .model import StudentModelConfig, StudentNet, count_parameters, expected_shapes
from .onnx import OnnxStudent
from .serve import Student

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "META_FILE",
    "METRICS_FILE",
    "ONNX_FILE",
    "ONNX_INT8_FILE",
    "WEIGHTS_FILE",
    "OnnxStudent",
    "Student",
    "StudentModelConfig",
    "StudentNet",
    "count_parameters",
    "expected_shapes",
    "read_meta",
    "save_student",
]
