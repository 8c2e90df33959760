"""PyTorch reference -> ONNX, checked with ONNX Runtime by the parity step.

Exported with the TorchScript-based exporter (opset 17) at batch size 1. Binarization
appears as ``Where(x >= 0, 1, -1)`` (ONNX's ``Sign`` maps 0 to 0, ours to +1), and the
Hamming k-NN as TopK over distance + index/N keys, which realises the lower-index tie
rule in any ONNX runtime.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import torch

from bgnn_deploy.errors import ConversionError
from bgnn_deploy.models.dgcnn import DGCNN

__all__ = ["export_onnx", "run_onnx"]


def export_onnx(model: DGCNN, path: str | Path) -> None:
    points = torch.zeros(1, model.config.num_points, 3)
    quiet = io.StringIO()
    try:
        with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(quiet):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model.eval(),
                (points,),
                str(path),
                input_names=["points"],
                output_names=["logits"],
                opset_version=17,
                dynamo=False,
            )
    except Exception as e:  # the exporter raises many types; all mean "cannot export"
        raise ConversionError(f"ONNX export failed: {str(e).strip()[:300]}") from None


class OnnxRunner:
    def __init__(self, path: str | Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(self, points: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"points": points.astype(np.float32)})[0]


def run_onnx(path: str | Path) -> OnnxRunner:
    return OnnxRunner(path)
