"""The BERT2DNN student: network, exported artifact, and its PyTorch / ONNX runtimes."""

from .artifact import (
    FORMAT_NAME,
    FORMAT_VERSION,
    META_FILE,
    METRICS_FILE,
    ONNX_FILE,
    ONNX_INT8_FILE,
    WEIGHTS_FILE,
    OnnxStudent,
    Student,
    read_meta,
    save_student,
)
from .model import StudentModelConfig, StudentNet, count_parameters, expected_shapes

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
