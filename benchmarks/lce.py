"""Section 3: our LceBconv2d against LCE's own x86 kernels, on the same .tflite.

LCE ships its kernels only inside its Python interpreter
(``larq_compute_engine.testing.Interpreter(flatbuffer, num_threads=1)``), so its time
is measured around ``predict``, which also copies the input in and the output out. That
call overhead is measured on a model with the same input and output shapes that does
no real work (``layers.py``'s trivial model) in the same rounds, and subtracted; both
the raw and the corrected times are kept. Our side is the same binary model through our
runner, which times the invocation alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.layers import LayerModels
from benchmarks.stats import Spread, interleaved, ratio_spread, runs_for
from benchmarks.timing import RunnerSide, median_call_ms

if TYPE_CHECKING:
    from bgnn_deploy.targets.build import RunnerBuild

__all__ = ["measure_lce"]


class _LceSide:
    """LCE's interpreter on one model, ``calls`` timed ``predict`` calls per round."""

    def __init__(self, path: Path, shape: tuple[int, ...], budget_s: float):
        from bgnn_deploy.converters.quiet import native_stderr_silenced
        from larq_compute_engine import testing

        with native_stderr_silenced():
            self.interp = testing.Interpreter(path.read_bytes(), num_threads=1)
        rng = np.random.default_rng(0)
        self.x = rng.uniform(-1, 1, size=shape).astype(np.float32)
        probe = median_call_ms(self.call, 2)
        self.calls = runs_for(probe, budget_s, lo=3, hi=200)

    def call(self) -> None:
        self.interp.predict(self.x)

    def __call__(self) -> float:
        return median_call_ms(self.call, self.calls)


def measure_lce(
    build: RunnerBuild,
    models: list[LayerModels],
    *,
    rounds: int,
    budget_s: float,
    say: Callable[[str], None],
) -> list[dict]:
    """Per layer: LCE raw, its call overhead, LCE corrected, ours; ratio LCE / ours."""
    rows = []
    for i, m in enumerate(models, 1):
        s = m.shape
        say(f"LCE interpreter {i}/{len(models)}: {s.name}")
        shape = (1, s.h, s.w, s.cin)
        ours = RunnerSide(build, m.binary, budget_s=budget_s)
        lce = _LceSide(m.binary, shape, budget_s)
        overhead = _LceSide(m.trivial, shape, budget_s)
        values = interleaved([("ours", ours), ("lce", lce), ("overhead", overhead)], rounds)
        corrected = [
            max(r - o, 1e-6) for r, o in zip(values["lce"], values["overhead"], strict=True)
        ]
        rows.append(
            {
                "shape": {"name": s.name, "group": s.group, "cin": s.cin, "cout": s.cout},
                "ours_ms": values["ours"],
                "lce_raw_ms": values["lce"],
                "lce_overhead_ms": values["overhead"],
                "lce_ms": corrected,
                "calls_per_round": {"lce": lce.calls, "overhead": overhead.calls},
                "overhead": Spread.of(values["overhead"]).to_dict(),
                "speedup_vs_lce": ratio_spread(corrected, values["ours"]).to_dict(),
                "speedup_vs_lce_raw": ratio_spread(values["lce"], values["ours"]).to_dict(),
            }
        )
    return rows
