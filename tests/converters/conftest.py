from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bgnn_deploy.data import load_dataset
from bgnn_deploy.models import ModelConfig, build_model
from bgnn_deploy.models.calibration import calibrate_on_synthetic
from bgnn_deploy.models.checkpoint import save_checkpoint


def calibrated_checkpoint(path, config: ModelConfig, seed: int = 0):
    """An untrained model whose BatchNorm statistics come from data, so that binary
    features split into both signs (default statistics leave almost all at +1)."""
    torch.manual_seed(seed)
    model = build_model(config)
    calibrate_on_synthetic(model, config.num_points, config.classes, seed=seed)
    save_checkpoint(model, path)
    return model


def stress_signs(model, seed: int = 0) -> None:
    """Give every BatchNorm gamma, learned scale and PReLU slope random signs (in place):
    the cases a fused op must get right besides the all-positive default."""
    from torch import nn

    from bgnn_deploy.models.binary import LearnedScale

    g = torch.Generator().manual_seed(seed)

    def flip(t: torch.Tensor) -> None:
        signs = torch.where(torch.rand(t.shape, generator=g) < 0.4, -1.0, 1.0)
        t.mul_(signs * (0.5 + torch.rand(t.shape, generator=g)))

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                flip(module.weight)
            elif isinstance(module, LearnedScale):
                flip(module.channel)
            elif isinstance(module, nn.PReLU):
                module.weight.copy_(torch.randn(module.weight.shape, generator=g))


def stressed_checkpoint(path, config: ModelConfig, seed: int = 0):
    """A calibrated untrained model with random signs of gammas, scales and slopes."""
    torch.manual_seed(seed)
    model = build_model(config)
    calibrate_on_synthetic(model, config.num_points, config.classes, seed=seed)
    stress_signs(model, seed)
    save_checkpoint(model, path)
    return model


SMALL = dict(num_points=96, k=8, widths=(16, 16, 32), emb=32, mlp=(32, 16), classes=5)


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """Convert each variant once per session: {name: (checkpoint, out_dir, report)}."""
    from bgnn_deploy.converters.convert import convert_checkpoint

    cache: dict = {}

    def get(name: str, config: ModelConfig, **kwargs):
        if name not in cache:
            root = tmp_path_factory.mktemp(name)
            ckpt = root / "model.pt"
            model = calibrated_checkpoint(ckpt, config)
            report = convert_checkpoint(ckpt, root / "out", samples=4, **kwargs)
            cache[name] = (ckpt, root / "out", report, model)
        return cache[name]

    return get


def binary_features_balanced(model, config) -> bool:
    x = torch.from_numpy(
        load_dataset(
            "synthetic",
            split="test",
            num_points=config.num_points,
            samples=2,
            classes=min(config.classes, 8),
        ).points
    ).transpose(1, 2)
    shares = []
    with torch.no_grad():
        for layer in model.edge_convs:
            x = layer(x)
            shares.append(float((x > 0).float().mean()))
    return all(0.05 < s < 0.95 for s in shares), np.round(shares, 2)


# Real `torch.onnx.export` files of public DGCNN code (fixtures/onnx/README.md says how
# each was made): name -> (input shape, classes, what `bgnn-deploy convert` says today,
# or None once it converts).
ONNX_FIXTURES_DIR = Path(__file__).parent / "fixtures" / "onnx"
ONNX_FIXTURES = {
    "wangyue-dgcnn-float-cf-legacy": ((1, 3, 256), 10, None),
    "wangyue-dgcnn-float-cf-legacy-raw": ((1, 3, 256), 10, None),
    "wangyue-dgcnn-float-cf-dynamo": ((1, 3, 256), 10, None),
    "wangyue-dgcnn-float-cl-dynamo": ((1, 256, 3), 10, None),
    "paper-bf2-legacy": ((1, 3, 256), 10, None),
    "paper-bf2-dynamo": ((1, 3, 256), 10, None),
    "paper-rf-legacy": ((1, 3, 256), 10, None),
}
# What each file is, from the code that made it (fixtures/onnx/README.md), not from the
# converter: binary or float, and the k-NN metric of each of its four EdgeConv layers.
ONNX_FIXTURE_MODELS = {
    "wangyue-": (False, ("l2",) * 4),
    "paper-bf2-": (True, ("l2", "hamming", "hamming", "hamming")),
    "paper-rf-": (True, ("l2",) * 4),
}


@pytest.fixture
def onnx_fixture_model():
    """(binary, per-layer k-NN metrics) of a fixture file, by its name:
    ``onnx_fixture_model(path)``."""

    def model(path: Path) -> tuple[bool, tuple[str, ...]]:
        return next(v for key, v in ONNX_FIXTURE_MODELS.items() if path.name.startswith(key))

    return model


def pytest_generate_tests(metafunc):
    """`onnx_fixture`: (path, input shape, classes) of every fixture file;
    `onnx_fixture_to_convert`: the same plus the refusal recorded for it, those that
    `bgnn-deploy convert` refuses today marked xfail(strict) with that message. The test
    raises NotImplementedError only when the CLI says exactly the recorded message, so a
    different refusal fails instead of passing as expected."""
    for argname in ("onnx_fixture", "onnx_fixture_to_convert"):
        if argname not in metafunc.fixturenames:
            continue
        params = []
        for name, (shape, classes, refusal) in ONNX_FIXTURES.items():
            marks = ()
            value = (ONNX_FIXTURES_DIR / f"{name}.onnx", shape, classes)
            if argname == "onnx_fixture_to_convert":
                value = (*value, refusal)
                if refusal is not None:
                    marks = pytest.mark.xfail(
                        raises=NotImplementedError, strict=True, reason=f"today: {refusal}"
                    )
            params.append(pytest.param(value, id=name, marks=marks))
        metafunc.parametrize(argname, params)


def seeded_cloud(shape, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape).astype(np.float32)


@pytest.fixture
def onnx_fixture_cloud():
    """The seeded cloud the fixtures were checked on (fixtures/onnx/README.md), of a given
    shape: ``onnx_fixture_cloud((1, 3, 256))``."""
    return seeded_cloud
