"""Precision variants of an exported fp32 graph, and the ORT-optimised graph.

* int8: dynamic quantisation for the CPU (weights int8, activations quantised per batch
  at run time) of every MatMul and embedding Gather.
* fp16: for the GPU; inputs and outputs stay fp32 (``keep_io_types``) so callers and
  the cache feeds do not change. The attention mask constant (-1e4, ``models.nn``) is
  representable in fp16, so masked scores cannot overflow to -inf and give NaN. The
  decoder step's search head (log-softmax, top-k) stays in fp32: the candidates' order is
  decided there.
"""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

FP32_OPS = [*DEFAULT_OP_BLOCK_LIST, "LogSoftmax", "TopK"]


def _without_value_info(path: Path, out: Path) -> Path:
    """The dynamo exporter annotates intermediate shapes from the example; ONNX shape
    inference (which the quantiser runs) rejects some of them, so they are dropped."""
    model = onnx.load(str(path))
    del model.graph.value_info[:]
    onnx.save(model, str(out))
    return out


def int8(src: Path, dst: Path) -> Path:
    tmp = _without_value_info(src, dst.with_suffix(".tmp.onnx"))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "consider pre-processing": shape inference is done above
    try:
        quantize_dynamic(str(tmp), str(dst), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
        tmp.unlink(missing_ok=True)
    return dst


def fp16(src: Path, dst: Path) -> Path:
    model = onnx.load(str(src))
    del model.graph.value_info[:]
    converted = convert_float_to_float16(model, keep_io_types=True, op_block_list=FP32_OPS)
    onnx.save(converted, str(dst))
    return dst


def optimized(src: Path, dst: Path) -> Path:
    """The graph as ORT's CPU provider optimises it (all levels), saved offline."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.optimized_model_filepath = str(dst)
    opts.log_severity_level = 3  # the warning that the result is hardware-specific: known
    ort.InferenceSession(str(src), opts, providers=["CPUExecutionProvider"])
    return dst
