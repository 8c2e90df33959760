"""Preparing a model for the LiteRt API (on the first `run --target local` of a model)
keeps TensorFlow's native start-up messages off the user's terminal."""

from __future__ import annotations

import subprocess
import sys

from bgnn_deploy.models import ModelConfig
from tests.converters.conftest import SMALL

CONFIG = ModelConfig(arch="bin-dgcnn-bf2", knn="hamming", **SMALL)


def test_prepare_in_a_fresh_process_prints_nothing_from_tensorflow(converted, tmp_path):
    _, _, report, _ = converted("bf2", CONFIG)
    code = (
        "import sys; from pathlib import Path\n"
        "from bgnn_deploy.converters.litert_prepare import prepare_for_litert\n"
        "out = prepare_for_litert(Path(sys.argv[1]).read_bytes())\n"
        "print(len(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(report.out_dir / "binary.tflite")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0
    assert done.stderr == "", done.stderr
