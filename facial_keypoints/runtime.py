"""ONNX Runtime sessions, set up one way for the whole package: the keypoint model
(:mod:`.predictor`) and the YuNet face detector (:mod:`.detectors`) both run through
:func:`onnx_session`."""

import os

import onnxruntime

from .errors import InputError, reason


def onnx_session(path, threads=None):
    """An ONNX Runtime session running the ``.onnx`` file at ``path`` on the CPU.

    ``threads``: CPU threads for one call; by default the number of cores, at most 4. Idle
    threads sleep rather than spin, leaving the cores to the other model, video decoding and
    drawing between calls (spinning YuNet threads slowed the keypoint model's next call: with
    three faces, its stage took 5.9 and 9.3 ms a frame against 5.5 and 5.1 in two runs each of
    ``benchmarks/pipeline.py`` with spinning allowed and not). Raises
    InputError naming the file when ONNX Runtime cannot run it.
    """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # ONNX Runtime's own types, one per failure (protobuf, graph...)
        raise InputError(f"{path}: not an ONNX model ONNX Runtime can run "
                         f"({reason(error).split(' : ')[-1]})") from error
